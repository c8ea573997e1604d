"""Kit v4's paths (https://developers.kit.com/v4), served under /v4/."""

from django.urls import path

from . import views as v
from . import views_bulk as b
from . import views_messaging as m
from . import views_subscribers as sub
from . import views_tags as t

urlpatterns = [
    path("account", v.AccountView.as_view()),
    path("account/colors", v.AccountColorsView.as_view()),
    path("account/creator_profile", v.CreatorProfileView.as_view()),
    path("account/email_stats", v.EmailStatsView.as_view()),
    path("account/growth_stats", v.GrowthStatsView.as_view()),
    path("broadcasts", m.BroadcastsView.as_view()),
    path("broadcasts/stats", m.BroadcastsStatsView.as_view()),
    path("broadcasts/<str:broadcast_id>", m.BroadcastView.as_view()),
    path("broadcasts/<str:broadcast_id>/stats", m.BroadcastStatsView.as_view()),
    path("broadcasts/<str:broadcast_id>/clicks", m.BroadcastClicksView.as_view()),
    path("bulk/custom_fields", b.BulkCustomFieldsView.as_view()),
    path("bulk/custom_fields/subscribers", b.BulkCustomFieldValuesView.as_view()),
    path("bulk/forms/subscribers", b.BulkFormAdditionsView.as_view()),
    path("bulk/subscribers", b.BulkSubscribersView.as_view()),
    path("bulk/tags", b.BulkTagsView.as_view()),
    path("bulk/tags/subscribers", b.BulkTaggingsView.as_view()),
    path("custom_fields", v.CustomFieldsView.as_view()),
    path("custom_fields/<str:field_id>", v.CustomFieldView.as_view()),
    path("email_templates", m.EmailTemplatesView.as_view()),
    path("forms", m.FormsView.as_view()),
    path("forms/<str:form_id>/subscribers", m.FormSubscribersView.as_view()),
    path("forms/<str:form_id>/subscribers/<str:subscriber_id>", m.FormSubscriberView.as_view()),
    path("purchases", m.PurchasesView.as_view()),
    path("purchases/<str:purchase_id>", m.PurchaseView.as_view()),
    path("segments", m.SegmentsView.as_view()),
    path("sequences", m.SequencesView.as_view()),
    path("sequences/<str:sequence_id>/subscribers", m.SequenceSubscribersView.as_view()),
    path(
        "sequences/<str:sequence_id>/subscribers/<str:subscriber_id>",
        m.SequenceSubscriberView.as_view(),
    ),
    path("subscribers", sub.SubscribersView.as_view()),
    path("subscribers/<str:subscriber_id>", sub.SubscriberView.as_view()),
    path("subscribers/<str:subscriber_id>/stats", sub.SubscriberStatsView.as_view()),
    path("subscribers/<str:subscriber_id>/tags", sub.SubscriberTagsView.as_view()),
    path("subscribers/<str:subscriber_id>/unsubscribe", sub.SubscriberUnsubscribeView.as_view()),
    path("tags", t.TagsView.as_view()),
    path("tags/<str:tag_id>", t.TagView.as_view()),
    path("tags/<str:tag_id>/subscribers", t.TagSubscribersView.as_view()),
    path("tags/<str:tag_id>/subscribers/<str:subscriber_id>", t.TagSubscriberView.as_view()),
    path("webhooks", v.WebhooksView.as_view()),
    path("webhooks/<str:webhook_id>", v.WebhookView.as_view()),
    path("<path:rest>", v.UnknownView.as_view()),
]
