from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from . import player_views, views
from .forms import MemberPasswordResetForm

app_name = "members"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/link/<uidb64>/<token>/", views.login_link_view, name="login_link"),
    path("logout/", views.logout_view, name="logout"),
    path(
        "password/reset/",
        views.ThrottledPasswordResetView.as_view(
            form_class=MemberPasswordResetForm,
            template_name="members/password_reset.html",
            email_template_name="members/email/password_reset.txt",
            subject_template_name="members/email/password_reset_subject.txt",
            success_url=reverse_lazy("members:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="members/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/set/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="members/password_set.html",
            success_url=reverse_lazy("members:password_set_done"),
        ),
        name="password_set",
    ),
    path(
        "password/set/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="members/password_set_done.html"
        ),
        name="password_set_done",
    ),
    path("", player_views.dashboard_view, name="dashboard"),
    path("account/", views.account_view, name="account"),
    path("account/email/<str:token>/", views.email_confirm_view, name="email_confirm"),
    path("no-access/", views.no_access_view, name="no_access"),
    path("offerings/<slug:slug>/", player_views.offering_view, name="offering"),
    path("offerings/<slug:slug>/image/", player_views.offering_image_view, name="offering_image"),
    path("offerings/<slug:slug>/<slug:lesson_slug>/", player_views.lesson_view, name="lesson"),
    path(
        "offerings/<slug:slug>/<slug:lesson_slug>/files/<int:pk>/",
        player_views.attachment_view,
        name="attachment",
    ),
    path("preview/start/", player_views.preview_start_view, name="preview_start"),
    path("preview/end/", player_views.preview_end_view, name="preview_end"),
    path(
        "hooks/in/<str:public_id>/<str:operation>/<int:offering_id>/<str:signature>/",
        views.webhook_inbound_view,
        name="webhook_inbound",
    ),
]
