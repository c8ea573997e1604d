from django.urls import path

from . import embed, link_tracking, views

app_name = "crm"

urlpatterns = [
    path("email/unsubscribe/<str:token>/", views.unsubscribe_view, name="unsubscribe"),
    path("email/preferences/<str:token>/", views.preferences_view, name="preferences"),
    path("forms/<int:form_id>/", views.form_view, name="form"),
    path("e/c/<str:token>/", link_tracking.click_view, name="click"),
    path("e/o/<str:token>/", link_tracking.open_view, name="open"),
    path("forms/<int:form_id>/embed.js", embed.form_embed_js, name="form_embed_js"),
    path("forms/<int:form_id>/subscribe/", embed.embed_subscribe_view, name="form_embed_subscribe"),
    path("forms/confirm/<str:token>/", views.form_confirm_view, name="form_confirm"),
]
