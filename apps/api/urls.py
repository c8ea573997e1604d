from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.routers import DefaultRouter

from .v1 import views as v1
from .v3 import views as v3
from .v3 import views_messaging as v3m

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
    path("v3/forms", v3m.FormsView.as_view()),
    path("v3/forms/<str:form_id>/subscribe", v3m.FormSubscribeView.as_view()),
    path("v3/forms/<str:form_id>/subscriptions", v3m.FormSubscriptionsView.as_view()),
    path("v3/purchases", v3m.PurchasesView.as_view()),
    path("v3/purchases/<str:purchase_id>", v3m.PurchaseView.as_view()),
    path("v3/broadcasts", v3m.BroadcastsView.as_view()),
    path("v3/broadcasts/<str:broadcast_id>", v3m.BroadcastView.as_view()),
    path("v3/broadcasts/<str:broadcast_id>/stats", v3m.BroadcastStatsView.as_view()),
    path("v3/automations/hooks", v3m.HooksView.as_view()),
    path("v3/automations/hooks/<str:hook_id>", v3m.HookView.as_view()),
]
# Sequences answer under both names (v3 still calls them courses).
for _prefix in ("sequences", "courses"):
    urlpatterns += [
        path(f"v3/{_prefix}", v3m.SequencesView.as_view()),
        path(f"v3/{_prefix}/<str:sequence_id>/subscribe", v3m.SequenceSubscribeView.as_view()),
        path(
            f"v3/{_prefix}/<str:sequence_id>/subscriptions", v3m.SequenceSubscriptionsView.as_view()
        ),
    ]


class Router(DefaultRouter):
    """The /api/v1/ root lists the routes to staff only, like every route under it."""

    APIRootView = v1.StaffAPIRoot


router = Router()
router.register("offerings", v1.OfferingViewSet, basename="offering")
router.register("members", v1.MemberViewSet, basename="member")
router.register("grants", v1.GrantViewSet, basename="grant")
router.register("automations", v1.AutomationViewSet, basename="automation")
router.register("runs", v1.RunViewSet, basename="run")
router.register("webhook-endpoints", v1.EndpointViewSet, basename="webhook-endpoint")
router.register("emails", v1.EmailViewSet, basename="email")
router.register("events", v1.EventViewSet, basename="event")

urlpatterns += [
    path("v4/", include("apps.api.v4.urls")),
    path("oauth/", include(("apps.api.v4.oauth", "oauth2_provider"), namespace="oauth2_provider")),
    path("v3/<path:rest>", v3.UnknownView.as_view()),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-docs"),
]
