from django.urls import path

from .v3 import views as v3

urlpatterns = [
    path("v3/account", v3.AccountView.as_view()),
    path("v3/tags", v3.TagsView.as_view()),
    path("v3/tags/<str:tag_id>/subscribe", v3.TagSubscribeView.as_view()),
    path("v3/tags/<str:tag_id>/unsubscribe", v3.TagUnsubscribeView.as_view()),
    path("v3/tags/<str:tag_id>/subscriptions", v3.TagSubscriptionsView.as_view()),
    path("v3/subscribers", v3.SubscribersView.as_view()),
    path("v3/subscribers/<str:subscriber_id>", v3.SubscriberView.as_view()),
    path("v3/subscribers/<str:subscriber_id>/tags", v3.SubscriberTagsView.as_view()),
    path("v3/subscribers/<str:subscriber_id>/tags/<str:tag_id>", v3.SubscriberTagView.as_view()),
    path("v3/unsubscribe", v3.UnsubscribeView.as_view()),
    path("v3/custom_fields", v3.CustomFieldsView.as_view()),
    path("v3/custom_fields/<str:field_id>", v3.CustomFieldView.as_view()),
]
