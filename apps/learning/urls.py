from django.urls import path

from . import views

app_name = "learning"

urlpatterns = [
    path(
        "offerings/<slug:slug>/<slug:lesson_slug>/quiz/",
        views.quiz_submit_view,
        name="quiz_submit",
    ),
    path("offerings/<slug:slug>/choose/<int:choice_id>/", views.choice_view, name="choose"),
    path("certificates/<str:code>.pdf", views.certificate_pdf_view, name="certificate_pdf"),
    path(
        "certificates/verify/<str:code>/",
        views.certificate_verify_view,
        name="certificate_verify",
    ),
]
