"""Kit v4: account, stats, custom fields and webhooks. Views parse, call services, shape;
every list is a cursor page. Subscribers are in ``views_subscribers``, tags in
``views_tags``, forms, sequences and broadcasts in ``views_messaging``."""

import zoneinfo
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from rest_framework.response import Response

from apps.api.services import account_profile_get, account_profile_update
from apps.crm.hooks import HOOK_EVENTS, hook_create, hook_delete
from apps.crm.models import (
    CustomField,
    EmailMessage,
    EmailStatus,
    Hook,
    Subscriber,
    SubscriberState,
)
from apps.crm.payloads import _iso
from apps.crm.services import custom_field_create, custom_field_delete, custom_field_relabel

from ..v3 import shapes
from ..v3.base import is_whole_number
from ..v3.views import account_email
from .base import (
    PAGE_PARAMS,
    V4View,
    cursor_page,
    get_or_404,
    invalid,
    not_found,
    text_param,
    when_param,
)

# Kit's email stats cover the last 90 days.
EMAIL_STATS_DAYS = 90


def _timezone() -> dict:
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    offset = datetime.now(zone).strftime("%z")
    return {
        "name": settings.TIME_ZONE,
        "friendly_name": settings.TIME_ZONE.replace("_", " "),
        "utc_offset": f"{offset[:3]}:{offset[3:]}",
    }


class AccountView(V4View):
    def get(self, request):
        first = Subscriber.objects.order_by("pk").values_list("created_at", flat=True).first()
        profile = account_profile_get()
        return Response(
            {
                "user": {"email": account_email()},
                "account": {
                    "name": settings.ACCOUNT_NAME,
                    "plan_type": "creator",
                    "primary_email_address": account_email(),
                    "created_at": _iso(min(filter(None, [profile.created_at, first]))),
                    "id": 1,
                    "timezone": _timezone(),
                },
            }
        )


class AccountColorsView(V4View):
    def get(self, request):
        return Response({"colors": account_profile_get().colors})

    def put(self, request):
        colors = self.body().get("colors")
        if colors is None:
            raise invalid("Colors can't be blank: send a list of up to 5 hex color codes.")
        profile = account_profile_update(colors=colors)
        return Response({"colors": profile.colors})


class CreatorProfileView(V4View):
    def get(self, request):
        profile = account_profile_get()
        return Response(
            {
                "profile": {
                    "name": settings.ACCOUNT_NAME,
                    "byline": profile.byline,
                    "bio": profile.bio,
                    "image_url": profile.image_url,
                    "profile_url": settings.SITE_URL + "/",
                }
            }
        )


class EmailStatsView(V4View):
    """Sends are counted from the outbox. Opens and clicks are not tracked yet, so they are
    null with the tracking flags false, rather than a zero that reads as a measurement."""

    def get(self, request):
        ending = timezone.now()
        starting = ending - timedelta(days=EMAIL_STATS_DAYS)
        sent = EmailMessage.objects.filter(
            status=EmailStatus.SENT, sent_at__gte=starting, sent_at__lte=ending
        ).count()
        return Response(
            {
                "stats": {
                    "sent": sent,
                    "clicked": None,
                    "opened": None,
                    "email_stats_mode": "last_90",
                    "open_tracking_enabled": False,
                    "click_tracking_enabled": False,
                    "starting": _iso(starting),
                    "ending": _iso(ending),
                }
            }
        )


class GrowthStatsView(V4View):
    """New subscribers and cancellations between two days (default: the last 90), and the
    active count at the end, all read from the subscribers themselves."""

    query_params = ("starting", "ending")

    def get(self, request):
        params = request.query_params
        today = timezone.localdate()
        ending = when_param(params, "ending") or today
        starting = when_param(params, "starting") or ending - timedelta(days=EMAIL_STATS_DAYS)
        zone = timezone.get_current_timezone()

        def edge(day, at):
            if isinstance(day, datetime):
                return day if timezone.is_aware(day) else timezone.make_aware(day, zone)
            return timezone.make_aware(datetime.combine(day, at), zone)

        start, end = edge(starting, time.min), edge(ending, time.max)
        if start > end:
            raise invalid("starting must be on or before ending.")
        counts = Subscriber.objects.aggregate(
            new=Count("pk", filter=Q(created_at__range=(start, end))),
            cancelled=Count("pk", filter=Q(cancelled_at__range=(start, end))),
            total=Count(
                "pk",
                filter=Q(created_at__lte=end)
                & (Q(cancelled_at__isnull=True) | Q(cancelled_at__gt=end))
                & ~Q(state__in=[SubscriberState.BOUNCED, SubscriberState.COMPLAINED]),
            ),
        )
        return Response(
            {
                "stats": {
                    "cancellations": counts["cancelled"],
                    "net_new_subscribers": counts["new"] - counts["cancelled"],
                    "new_subscribers": counts["new"],
                    "subscribers": counts["total"],
                    "starting": _iso(start),
                    "ending": _iso(end),
                }
            }
        )


# Custom fields ----------------------------------------------------------------------------


def field_shape(field: CustomField) -> dict:
    return shapes.custom_field(field)


class CustomFieldsView(V4View):
    query_params = PAGE_PARAMS

    def get(self, request):
        return Response(
            cursor_page(
                CustomField.objects.all(),
                request.query_params,
                "custom_fields",
                lambda rows: list(map(field_shape, rows)),
            )
        )

    def post(self, request):
        label = text_param(self.body().get("label"), "label", required=True)
        return Response({"custom_field": field_shape(custom_field_create(label=label))}, status=201)


class CustomFieldView(V4View):
    def put(self, request, field_id):
        field = get_or_404(CustomField, field_id)
        label = text_param(self.body().get("label"), "label", required=True)
        return Response(
            {"custom_field": field_shape(custom_field_relabel(field=field, label=label))}
        )

    def delete(self, request, field_id):
        custom_field_delete(field=get_or_404(CustomField, field_id))
        return Response(status=204)


# Webhooks ---------------------------------------------------------------------------------


def webhook_shape(hook: Hook) -> dict:
    event = {"name": hook.event_name}
    field = HOOK_EVENTS[hook.event_name][1]
    if field:
        event[field] = getattr(hook, field)
    return {"id": hook.pk, "account_id": 1, "event": event, "target_url": hook.target_url}


INT_FILTERS = ("tag_id", "form_id", "sequence_id", "custom_field_id")


class WebhooksView(V4View):
    query_params = PAGE_PARAMS

    def get(self, request):
        return Response(
            cursor_page(
                Hook.objects.filter(active=True),
                request.query_params,
                "webhooks",
                lambda rows: list(map(webhook_shape, rows)),
            )
        )

    def post(self, request):
        body = self.body()
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("name"), str):
            raise invalid(
                "event must be an object with a name, "
                'e.g. {"name": "subscriber.subscriber_activate"}.'
            )
        name = event["name"].split(".", 1)[-1]
        field = HOOK_EVENTS.get(name, (None, None))[1]
        value = event.get(field) if field else None
        if field == "sequence_id" and value in (None, ""):
            value = event.get("course_id")
        if field in INT_FILTERS and value not in (None, ""):
            if not is_whole_number(value):
                raise invalid(f"event.{field} must be a whole number.")
            value = int(value)
        elif field and value not in (None, ""):
            value = text_param(value, f"event.{field}", max_length=2000)
        target = text_param(body.get("target_url"), "target_url", required=True, max_length=2000)
        hook = hook_create(event_name=event["name"], target_url=target, filter_value=value)
        return Response({"webhook": webhook_shape(hook)}, status=201)


class WebhookView(V4View):
    def delete(self, request, webhook_id):
        hook_delete(hook=get_or_404(Hook, webhook_id))
        return Response(status=204)


class UnknownView(V4View):
    """Any other /v4/ path: Kit's 404 body, not an HTML page (after authentication)."""

    schema = None

    def get(self, request, rest):
        raise not_found()

    post = put = delete = get
