"""Kit v4: account, tags, custom fields, subscribers and webhooks. Views parse, call
services, shape; every list is a cursor page."""

import zoneinfo
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from rest_framework.response import Response

from apps.api.services import account_profile_get, account_profile_update
from apps.crm.events import events_buffered
from apps.crm.hooks import HOOK_EVENTS, hook_create, hook_delete
from apps.crm.models import (
    CustomField,
    EmailMessage,
    EmailStatus,
    Hook,
    Subscriber,
    SubscriberState,
)
from apps.crm.payloads import _iso, subscriber_kit_payload
from apps.crm.services import (
    custom_field_create,
    custom_field_delete,
    custom_field_relabel,
    email_normalize,
    subscriber_fields_set,
    subscriber_get_or_create,
    subscriber_unsubscribe,
    subscriber_update,
)
from apps.tags.models import Tag, Tagging
from apps.tags.services import tag_get_or_create, tag_rename, taggings_add, taggings_remove

from ..v3 import shapes
from ..v3.base import is_whole_number
from ..v3.views import MAX_FIELDS_PER_UPDATE, account_email
from .base import (
    PAGE_PARAMS,
    V4Error,
    V4View,
    choice_param,
    cursor_page,
    get_or_404,
    invalid,
    not_found,
    text_param,
    when_param,
)

STATUSES = ("active", "inactive", "bounced", "complained", "cancelled", "all")
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


# Tags -------------------------------------------------------------------------------------


def tag_shape(tag: Tag) -> dict:
    return {"id": tag.pk, "name": tag.name, "created_at": _iso(tag.created_at)}


class TagsView(V4View):
    query_params = PAGE_PARAMS

    def get(self, request):
        return Response(
            cursor_page(
                Tag.objects.all(),
                request.query_params,
                "tags",
                lambda rows: list(map(tag_shape, rows)),
            )
        )

    def post(self, request):
        """201 with a new tag; 200 with the existing one when the name is taken (Kit)."""
        name = text_param(self.body().get("name"), "name", required=True)
        tag, created = tag_get_or_create(name=name)
        return Response({"tag": tag_shape(tag)}, status=201 if created else 200)


class TagView(V4View):
    def put(self, request, tag_id):
        tag = get_or_404(Tag, tag_id)
        name = text_param(self.body().get("name"), "name", required=True)
        return Response({"tag": tag_shape(tag_rename(tag=tag, name=name))})


def subscriber_shape(subscriber: Subscriber, fields: dict, **extra) -> dict:
    return {**subscriber_kit_payload(subscriber, fields=fields), **extra}


def subscribers_shaped(rows, extra=None) -> list[dict]:
    """Subscribers (or rows with a ``subscriber``) in Kit's shape, fields in one query;
    ``extra(row)`` adds per-row keys (tagged_at, added_at…)."""
    people = [getattr(r, "subscriber", r) for r in rows]
    fields = shapes.fields_of(p.pk for p in people)
    return [
        subscriber_shape(p, fields[p.pk], **(extra(r) if extra else {}))
        for p, r in zip(people, rows, strict=True)
    ]


def status_filter(queryset, params, prefix: str = ""):
    status = choice_param(params, "status", STATUSES, "active")
    if status != "all":
        queryset = queryset.filter(**{f"{prefix}state": status})
    return queryset


def dated(queryset, params, pairs):
    for name, lookup in pairs:
        when = when_param(params, name)
        if when is not None:
            queryset = queryset.filter(**{lookup: when})
    return queryset


def membership_page(queryset, params, *, at: str, label: str):
    """Subscribers of a tag, form or sequence: ``at`` is when they joined, named ``label``."""
    queryset = status_filter(queryset.select_related("subscriber"), params, "subscriber__")
    queryset = dated(
        queryset,
        params,
        [
            (f"{label.removesuffix('_at')}_after", f"{at}__gte"),
            (f"{label.removesuffix('_at')}_before", f"{at}__lte"),
            ("created_after", "subscriber__created_at__gte"),
            ("created_before", "subscriber__created_at__lte"),
        ],
    )
    extra = {label: lambda r: _iso(getattr(r, at))}
    return cursor_page(
        queryset,
        params,
        "subscribers",
        lambda rows: subscribers_shaped(rows, lambda r: {k: f(r) for k, f in extra.items()}),
    )


class TagSubscribersView(V4View):
    query_params = (*PAGE_PARAMS, "status", "tagged_after", "tagged_before")

    def get(self, request, tag_id):
        tag = get_or_404(Tag, tag_id)
        return Response(
            membership_page(
                Tagging.objects.filter(tag=tag),
                request.query_params,
                at="created_at",
                label="tagged_at",
            )
        )

    def post(self, request, tag_id):
        """Tag by email address: the subscriber must exist (v4, unlike v3)."""
        tag = get_or_404(Tag, tag_id)
        subscriber = subscriber_by_email(self.body().get("email_address"))
        return _tag(tag, subscriber)

    def delete(self, request, tag_id):
        tag = get_or_404(Tag, tag_id)
        subscriber = subscriber_by_email(self.body().get("email_address"))
        taggings_remove(pairs=[(subscriber.pk, tag.pk)], source="api")
        return Response(status=204)


def subscriber_by_email(value) -> Subscriber:
    email = text_param(value, "email_address", required=True)
    found = Subscriber.objects.filter(email=email.strip().lower()).first()
    if found is None:
        raise not_found("Subscriber")
    return found


def _tag(tag: Tag, subscriber: Subscriber) -> Response:
    """201 when newly tagged, 200 when the subscriber had the tag already."""
    with transaction.atomic(), events_buffered():
        added = taggings_add(pairs=[(subscriber.pk, tag.pk)], source="api")
    tagging = Tagging.objects.get(subscriber=subscriber, tag=tag)
    return Response(
        {
            "subscriber": subscribers_shaped(
                [tagging], lambda r: {"tagged_at": _iso(r.created_at)}
            )[0]
        },
        status=201 if added else 200,
    )


class TagSubscriberView(V4View):
    def post(self, request, tag_id, subscriber_id):
        return _tag(get_or_404(Tag, tag_id), get_or_404(Subscriber, subscriber_id))

    def delete(self, request, tag_id, subscriber_id):
        tag, subscriber = get_or_404(Tag, tag_id), get_or_404(Subscriber, subscriber_id)
        taggings_remove(pairs=[(subscriber.pk, tag.pk)], source="api")
        return Response(status=204)


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


# Subscribers ------------------------------------------------------------------------------

SUBSCRIBER_SORTS = {"id": "pk", "created_at": "created_at", "updated_at": "updated_at"}


def fields_param(value) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise invalid("fields must be an object of custom field key: value.")
    if len(value) > MAX_FIELDS_PER_UPDATE:
        raise V4Error(400, f"At most {MAX_FIELDS_PER_UPDATE} custom fields per request.")
    for key, raw in value.items():
        if raw is not None and (isinstance(raw, bool) or not isinstance(raw, str | int | float)):
            raise invalid(f"fields.{key} must be text or a number.")
    return value


class SubscribersView(V4View):
    query_params = (
        *PAGE_PARAMS,
        "email_address",
        "status",
        "created_after",
        "created_before",
        "updated_after",
        "updated_before",
        "sort_field",
        "sort_order",
    )

    def get(self, request):
        params = request.query_params
        queryset = status_filter(Subscriber.objects.all(), params)
        if params.get("email_address"):
            queryset = queryset.filter(email=params["email_address"].strip().lower())
        queryset = dated(
            queryset,
            params,
            [
                ("created_after", "created_at__gte"),
                ("created_before", "created_at__lte"),
                ("updated_after", "updated_at__gte"),
                ("updated_before", "updated_at__lte"),
            ],
        )
        sort = SUBSCRIBER_SORTS[choice_param(params, "sort_field", tuple(SUBSCRIBER_SORTS), "id")]
        desc = choice_param(params, "sort_order", ("asc", "desc"), "desc") == "desc"
        return Response(
            cursor_page(queryset, params, "subscribers", subscribers_shaped, field=sort, desc=desc)
        )

    def post(self, request):
        """Create, or update the first name and fields of the subscriber with this address
        (Kit's upsert): 201 when new, 200 when found."""
        body = self.body()
        try:
            email = email_normalize(text_param(body.get("email_address"), "email_address"))
        except ValidationError as exc:
            raise invalid(*exc.messages) from None
        first_name = text_param(body.get("first_name"), "first_name")
        state = body.get("state") or SubscriberState.ACTIVE
        if state not in (SubscriberState.ACTIVE, SubscriberState.INACTIVE):
            raise invalid("state must be active or inactive.")
        fields = fields_param(body.get("fields"))
        with transaction.atomic():
            subscriber, created = subscriber_get_or_create(
                email=email, first_name=first_name, state=state
            )
            if not created and first_name:
                subscriber_update(subscriber=subscriber, first_name=first_name)
            subscriber_fields_set(subscriber=subscriber, values=fields)
        subscriber.refresh_from_db()
        return Response(
            {"subscriber": subscribers_shaped([subscriber])[0]}, status=201 if created else 200
        )


class SubscriberView(V4View):
    def get(self, request, subscriber_id):
        return Response(
            {"subscriber": subscribers_shaped([get_or_404(Subscriber, subscriber_id)])[0]}
        )

    def put(self, request, subscriber_id):
        subscriber = get_or_404(Subscriber, subscriber_id)
        body = self.body()
        fields = fields_param(body.get("fields"))
        first_name, email = body.get("first_name"), body.get("email_address")
        with transaction.atomic():
            subscriber_update(
                subscriber=subscriber,
                first_name=None if first_name is None else text_param(first_name, "first_name"),
                email=None if email is None else text_param(email, "email_address"),
            )
            subscriber_fields_set(subscriber=subscriber, values=fields)
        subscriber.refresh_from_db()
        return Response({"subscriber": subscribers_shaped([subscriber])[0]})


class SubscriberUnsubscribeView(V4View):
    def post(self, request, subscriber_id):
        subscriber_unsubscribe(subscriber=get_or_404(Subscriber, subscriber_id))
        return Response(status=204)


class SubscriberTagsView(V4View):
    query_params = PAGE_PARAMS

    def get(self, request, subscriber_id):
        subscriber = get_or_404(Subscriber, subscriber_id)
        return Response(
            cursor_page(
                Tagging.objects.filter(subscriber=subscriber).select_related("tag"),
                request.query_params,
                "tags",
                lambda rows: [
                    {"id": r.tag.pk, "name": r.tag.name, "tagged_at": _iso(r.created_at)}
                    for r in rows
                ],
            )
        )


class SubscriberStatsView(V4View):
    """Sends and bounces from the outbox; opens and clicks are not tracked yet (null)."""

    def get(self, request, subscriber_id):
        subscriber = get_or_404(Subscriber, subscriber_id)
        sent = EmailMessage.objects.filter(subscriber=subscriber, status=EmailStatus.SENT)
        last = sent.order_by("-sent_at").values_list("sent_at", flat=True).first()
        return Response(
            {
                "subscriber": {
                    "id": subscriber.pk,
                    "stats": {
                        "sent": sent.count(),
                        "opened": None,
                        "clicked": None,
                        "bounced": int(subscriber.state == SubscriberState.BOUNCED),
                        "open_rate": None,
                        "click_rate": None,
                        "last_sent": _iso(last),
                        "last_opened": None,
                        "last_clicked": None,
                        "sends_since_last_open": None,
                        "sends_since_last_click": None,
                    },
                }
            }
        )


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
