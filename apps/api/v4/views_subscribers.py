"""Kit v4: subscribers, and the shapes and filters every list of subscribers shares (a tag's,
a form's, a sequence's)."""

from django.core.exceptions import ValidationError
from rest_framework.response import Response

from apps.crm.models import EmailMessage, EmailStatus, Subscriber, SubscriberState
from apps.crm.payloads import _iso, subscriber_kit_payload
from apps.crm.services import email_normalize, subscriber_unsubscribe
from apps.tags.models import Tagging

from ..services.kit import kit_subscriber_update, kit_subscriber_upsert
from ..v3 import shapes
from ..v3.views import MAX_FIELDS_PER_UPDATE
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


def subscriber_by_email(value) -> Subscriber:
    email = text_param(value, "email_address", required=True)
    found = Subscriber.objects.filter(email=email.strip().lower()).first()
    if found is None:
        raise not_found("Subscriber")
    return found


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
        subscriber, created = kit_subscriber_upsert(
            email=email, first_name=first_name, state=state, fields=fields
        )
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
        kit_subscriber_update(
            subscriber=subscriber,
            first_name=None if first_name is None else text_param(first_name, "first_name"),
            email=None if email is None else text_param(email, "email_address"),
            fields=fields,
        )
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
