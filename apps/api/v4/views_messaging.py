"""Kit v4: forms, sequences, purchases, broadcasts, segments and email templates."""

from django.db.models import Count, Q
from django.urls import reverse
from rest_framework.response import Response

from apps.api.broadcasts import broadcast_delete, broadcast_write
from apps.crm.messaging.sequences import sequence_subscribe
from apps.crm.models import (
    Broadcast,
    BroadcastStatus,
    EmailMessage,
    EmailStatus,
    EmailTemplate,
    Form,
    FormSubscription,
    Purchase,
    Sequence,
    SequenceSubscription,
    Subscriber,
)
from apps.crm.payloads import _iso, purchase_kit_payload
from apps.crm.signups import form_subscribe, purchase_create
from apps.tags.models import Segment

from .base import (
    PAGE_PARAMS,
    V4View,
    choice_param,
    cursor_page,
    get_or_404,
    invalid,
    text_param,
)
from .views_subscribers import membership_page, subscriber_by_email, subscribers_shaped

# Forms ------------------------------------------------------------------------------------


# Kit's format of each kind of form (crm's FormKind values): a hosted (landing page) form has
# none, an embedded one is inline.
FORM_FORMATS = {"hosted": None, "embed": "inline"}


def form_shape(form: Form, request) -> dict:
    url = request.build_absolute_uri(reverse("crm:form", args=[form.pk]))
    return {
        "id": form.pk,
        "name": form.name,
        "created_at": _iso(form.created_at),
        "type": form.kind,
        "format": FORM_FORMATS.get(form.kind, "inline"),
        "embed_js": request.build_absolute_uri(reverse("crm:form_embed_js", args=[form.pk])),
        "embed_url": url,
        "archived": False,
        "uid": f"form-{form.pk}",
    }


class FormsView(V4View):
    """Tessera's forms are never archived or trashed: ``status=archived`` lists none."""

    query_params = (*PAGE_PARAMS, "status", "type")

    def get(self, request):
        params = request.query_params
        status = choice_param(params, "status", ("active", "archived", "trashed", "all"), "active")
        kind = choice_param(params, "type", ("embed", "hosted", "all"), "all")
        forms = Form.objects.all() if status in ("active", "all") else Form.objects.none()
        if kind != "all":
            forms = forms.filter(kind=kind)
        return Response(
            cursor_page(forms, params, "forms", lambda rows: [form_shape(f, request) for f in rows])
        )


def _form_added(form: Form, subscriber: Subscriber, referrer: str) -> Response:
    existed = FormSubscription.objects.filter(form=form, subscriber=subscriber).exists()
    subscription = form_subscribe(
        form=form, email=subscriber.email, first_name=subscriber.first_name, referrer=referrer
    )
    return Response(
        {
            "subscriber": subscribers_shaped(
                [subscription],
                lambda r: {
                    "added_at": _iso(r.created_at),
                    "referrer": r.referrer or None,
                    "referrer_utm_parameters": None,
                },
            )[0]
        },
        status=200 if existed else 201,
    )


class FormSubscribersView(V4View):
    query_params = (*PAGE_PARAMS, "status", "added_after", "added_before")

    def get(self, request, form_id):
        form = get_or_404(Form, form_id)
        return Response(
            membership_page(
                FormSubscription.objects.filter(form=form),
                request.query_params,
                at="created_at",
                label="added_at",
            )
        )

    def post(self, request, form_id):
        form = get_or_404(Form, form_id)
        body = self.body()
        subscriber = subscriber_by_email(body.get("email_address"))
        referrer = text_param(body.get("referrer"), "referrer", max_length=500)
        return _form_added(form, subscriber, referrer)


class FormSubscriberView(V4View):
    def post(self, request, form_id, subscriber_id):
        form, subscriber = get_or_404(Form, form_id), get_or_404(Subscriber, subscriber_id)
        referrer = text_param(self.body().get("referrer"), "referrer", max_length=500)
        return _form_added(form, subscriber, referrer)


# Sequences --------------------------------------------------------------------------------


def sequence_shape(sequence: Sequence) -> dict:
    return {
        "id": sequence.pk,
        "name": sequence.name,
        "hold": sequence.hold,
        "repeat": sequence.repeat,
        "created_at": _iso(sequence.created_at),
    }


class SequencesView(V4View):
    query_params = PAGE_PARAMS

    def get(self, request):
        return Response(
            cursor_page(
                Sequence.objects.all(),
                request.query_params,
                "sequences",
                lambda rows: list(map(sequence_shape, rows)),
            )
        )


def _sequence_added(sequence: Sequence, subscriber: Subscriber) -> Response:
    added = sequence_subscribe(subscriber=subscriber, sequence=sequence, source="api")
    subscription = SequenceSubscription.objects.get(subscriber=subscriber, sequence=sequence)
    return Response(
        {
            "subscriber": subscribers_shaped(
                [subscription], lambda r: {"added_at": _iso(r.created_at)}
            )[0]
        },
        status=201 if added else 200,
    )


class SequenceSubscribersView(V4View):
    query_params = (*PAGE_PARAMS, "status", "added_after", "added_before")

    def get(self, request, sequence_id):
        sequence = get_or_404(Sequence, sequence_id)
        return Response(
            membership_page(
                SequenceSubscription.objects.filter(sequence=sequence),
                request.query_params,
                at="created_at",
                label="added_at",
            )
        )

    def post(self, request, sequence_id):
        sequence = get_or_404(Sequence, sequence_id)
        return _sequence_added(sequence, subscriber_by_email(self.body().get("email_address")))


class SequenceSubscriberView(V4View):
    def post(self, request, sequence_id, subscriber_id):
        return _sequence_added(
            get_or_404(Sequence, sequence_id), get_or_404(Subscriber, subscriber_id)
        )


# Purchases --------------------------------------------------------------------------------


class PurchasesView(V4View):
    query_params = PAGE_PARAMS

    def get(self, request):
        return Response(
            cursor_page(
                Purchase.objects.all(),
                request.query_params,
                "purchases",
                lambda rows: list(map(purchase_kit_payload, rows)),
            )
        )

    def post(self, request):
        """Kit's v4 body is the purchase itself, or wrapped in ``purchase`` as in v3."""
        body = self.body()
        data = body.get("purchase", body)
        if not isinstance(data, dict):
            raise invalid("purchase must be an object.")
        existed = Purchase.objects.filter(transaction_id=str(data.get("transaction_id"))).exists()
        purchase = purchase_create(data=data)
        return Response(
            {"purchase": purchase_kit_payload(purchase)}, status=200 if existed else 201
        )


class PurchaseView(V4View):
    def get(self, request, purchase_id):
        return Response({"purchase": purchase_kit_payload(get_or_404(Purchase, purchase_id))})


# Broadcasts -------------------------------------------------------------------------------


def _subscriber_filter(broadcast: Broadcast) -> list[dict]:
    if not broadcast.condition:
        return [{"all": [{"type": "all_subscribers"}], "any": None, "none": None}]
    return [{"condition": broadcast.condition}]


def broadcast_shape(b: Broadcast, request) -> dict:
    template = b.email_template
    return {
        "id": b.pk,
        "created_at": _iso(b.created_at),
        "subject": b.subject,
        "preview_text": b.preview_text or None,
        "description": b.description or None,
        "content": b.content or None,
        "public": b.public,
        "published_at": _iso(b.published_at),
        "send_at": _iso(b.send_at),
        "thumbnail_alt": b.thumbnail_alt or None,
        "thumbnail_url": b.thumbnail_url or None,
        "public_url": None,
        "email_address": b.email_address or None,
        "email_template": {"id": template.pk, "name": template.name} if template else None,
        "subscriber_filter": _subscriber_filter(b),
    }


class BroadcastsView(V4View):
    query_params = PAGE_PARAMS

    def get(self, request):
        return Response(
            cursor_page(
                Broadcast.objects.select_related("email_template"),
                request.query_params,
                "broadcasts",
                lambda rows: [broadcast_shape(b, request) for b in rows],
            )
        )

    def post(self, request):
        broadcast = broadcast_write(broadcast=Broadcast(), values=self.body())
        return Response({"broadcast": broadcast_shape(broadcast, request)}, status=201)


class BroadcastView(V4View):
    def get(self, request, broadcast_id):
        return Response(
            {"broadcast": broadcast_shape(get_or_404(Broadcast, broadcast_id), request)}
        )

    def put(self, request, broadcast_id):
        broadcast = broadcast_write(
            broadcast=get_or_404(Broadcast, broadcast_id), values=self.body()
        )
        return Response({"broadcast": broadcast_shape(broadcast, request)})

    def delete(self, request, broadcast_id):
        broadcast = get_or_404(Broadcast, broadcast_id)
        if broadcast.status == BroadcastStatus.SENDING:
            raise invalid("The broadcast is being sent; delete it once it has finished.")
        broadcast_delete(broadcast=broadcast)
        return Response(status=204)


def broadcast_stats_of(broadcasts) -> dict[int, dict]:
    """Recipients, sends and unsubscribes from the outbox, for many broadcasts in one query.
    Opens and clicks are not tracked yet: their figures are null and the tracking flags say
    so, rather than zeros that would read as measured."""
    rows = {
        r["broadcast_id"]: r
        for r in EmailMessage.objects.filter(broadcast__in=[b.pk for b in broadcasts])
        .values("broadcast_id")
        .annotate(
            recipients=Count("pk"),
            queued=Count("pk", filter=Q(status__in=[EmailStatus.QUEUED, EmailStatus.SENDING])),
            unsubscribes=Count("pk", filter=Q(subscriber__state="cancelled")),
        )
    }
    stats = {}
    for b in broadcasts:
        row = rows.get(b.pk, {"recipients": 0, "queued": 0, "unsubscribes": 0})
        recipients = row["recipients"]
        done = recipients - row["queued"]
        stats[b.pk] = {
            "recipients": recipients,
            "open_rate": None,
            "emails_opened": None,
            "open_tracking_disabled": True,
            "click_rate": None,
            "click_tracking_disabled": True,
            "total_clicks": None,
            "show_total_clicks": False,
            "unsubscribes": row["unsubscribes"],
            "unsubscribe_rate": round(100 * row["unsubscribes"] / recipients, 2)
            if recipients
            else None,
            "status": b.status,
            "progress": round(100 * done / recipients, 1) if recipients else None,
            "sent_at": _iso(b.published_at) if b.status == BroadcastStatus.COMPLETED else None,
        }
    return stats


class BroadcastStatsView(V4View):
    def get(self, request, broadcast_id):
        broadcast = get_or_404(Broadcast, broadcast_id)
        return Response(
            {
                "broadcast": {
                    "id": broadcast.pk,
                    "stats": broadcast_stats_of([broadcast])[broadcast.pk],
                }
            }
        )


class BroadcastsStatsView(V4View):
    query_params = PAGE_PARAMS

    def get(self, request):
        def render(rows):
            stats = broadcast_stats_of(rows)
            return [{"id": b.pk, "stats": stats[b.pk]} for b in rows]

        return Response(
            cursor_page(Broadcast.objects.all(), request.query_params, "broadcasts", render)
        )


class BroadcastClicksView(V4View):
    """Link clicks are not tracked yet: the list is empty and ``click_tracking_disabled``
    says why (the README's "not yet tracked" list)."""

    query_params = PAGE_PARAMS

    def get(self, request, broadcast_id):
        broadcast = get_or_404(Broadcast, broadcast_id)
        page = cursor_page(Broadcast.objects.none(), request.query_params, "clicks", list)
        clicks = page.pop("clicks")
        return Response(
            {
                "broadcast": {
                    "id": broadcast.pk,
                    "clicks": clicks,
                    "click_tracking_disabled": True,
                },
                **page,
            }
        )


# Segments and email templates -------------------------------------------------------------


class SegmentsView(V4View):
    query_params = PAGE_PARAMS

    def get(self, request):
        return Response(
            cursor_page(
                Segment.objects.all(),
                request.query_params,
                "segments",
                lambda rows: [
                    {"id": s.pk, "name": s.name, "created_at": _iso(s.created_at)} for s in rows
                ],
            )
        )


class EmailTemplatesView(V4View):
    query_params = PAGE_PARAMS

    def get(self, request):
        return Response(
            cursor_page(
                EmailTemplate.objects.all(),
                request.query_params,
                "email_templates",
                lambda rows: [
                    {"id": t.pk, "name": t.name, "is_default": t.is_default, "category": t.category}
                    for t in rows
                ],
            )
        )
