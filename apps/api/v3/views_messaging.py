"""Kit v3: forms, sequences (and the /courses aliases), purchases, broadcasts, hooks."""

from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.response import Response

from apps.api.broadcasts import broadcast_delete, broadcast_write
from apps.crm.hooks import HOOK_EVENTS, hook_create, hook_delete
from apps.crm.messaging.broadcasts import broadcast_stats
from apps.crm.models import (
    Broadcast,
    Form,
    FormSubscription,
    Hook,
    Purchase,
    Sequence,
    SequenceSubscription,
)
from apps.crm.payloads import _iso, purchase_kit_payload
from apps.crm.signups import form_subscribe, purchase_create
from apps.members.models import WebhookEndpoint

from ..services.kit import kit_sequence_subscribe
from . import shapes
from .base import (
    V3Error,
    V3View,
    as_int,
    as_text,
    not_found,
    page_of,
    path_id,
    unprocessable,
    whole_or_paged,
)
from .views import _contact, _subscriptions_page


def _get_or_404(model, pk, error="Not Found", message=None):
    found = model.objects.filter(pk=path_id(pk)).first()
    if found is None:
        raise not_found(
            error,
            message if message is not None else "The entity you were trying to find doesn't exist",
        )
    return found


def _form(form: Form, request) -> dict:
    from apps.api.v4.views_messaging import form_shape

    url = request.build_absolute_uri(reverse("crm:form", args=[form.pk]))
    shared = form_shape(form, request)
    return {
        "id": form.pk,
        "name": form.name,
        "created_at": _iso(form.created_at),
        "type": form.kind,
        "url": url,
        "embed_js": shared["embed_js"],
        "embed_url": url,
        "archived": shared["archived"],
        "uid": shared["uid"],
        "title": form.title or form.name,
        "description": form.description,
        "sign_up_button_text": form.sign_up_button_text,
        "success_message": form.success_message,
    }


class FormsView(V3View):
    access = "key"

    def get(self, request):
        return Response({"forms": [_form(f, request) for f in Form.objects.order_by("pk")]})


class FormSubscribeView(V3View):
    access = "key"

    def post(self, request, form_id):
        """Tags asked for here follow the form's own: at once, or on confirmation with double
        opt-in (the subscription answers "inactive" until then, as in Kit)."""
        form = _get_or_404(Form, form_id)
        email, first_name, fields, tag_ids = _contact(self.args_, with_secret=self.with_secret)
        subscription = form_subscribe(
            form=form, email=email, first_name=first_name, fields=fields, tag_ids=tag_ids
        )
        subscriber = subscription.subscriber
        subscriber.refresh_from_db()
        return Response(
            {
                "subscription": shapes.subscription(
                    pk=subscription.pk,
                    state=subscription.state,
                    created_at=subscription.created_at,
                    subscribable_id=form.pk,
                    kind="form",
                    subscriber=self.subscriber_shape(subscriber),
                    referrer=subscription.referrer,
                )
            }
        )


class FormSubscriptionsView(V3View):
    def get(self, request, form_id):
        form = _get_or_404(Form, form_id)
        return Response(
            _subscriptions_page(
                FormSubscription.objects.filter(form=form),
                self.args_,
                kind="form",
                subscribable_id=form.pk,
            )
        )


class SequencesView(V3View):
    access = "key"

    def get(self, request):
        return Response(
            {
                "courses": [
                    {
                        "id": s.pk,
                        "name": s.name,
                        "hold": s.hold,
                        "repeat": s.repeat,
                        "created_at": _iso(s.created_at),
                    }
                    for s in Sequence.objects.order_by("pk")
                ]
            }
        )


class SequenceSubscribeView(V3View):
    access = "key"

    def post(self, request, sequence_id):
        sequence = _get_or_404(Sequence, sequence_id, "Course not found", "")
        email, first_name, fields, tag_ids = _contact(self.args_, with_secret=self.with_secret)
        subscriber = kit_sequence_subscribe(
            sequence=sequence, email=email, first_name=first_name, fields=fields, tag_ids=tag_ids
        )
        sub = SequenceSubscription.objects.get(subscriber=subscriber, sequence=sequence)
        return Response(
            {
                "subscription": shapes.subscription(
                    pk=sub.pk,
                    state="active",
                    created_at=sub.created_at,
                    subscribable_id=sequence.pk,
                    kind="course",
                    subscriber=self.subscriber_shape(subscriber),
                    source=sub.source,
                )
            }
        )


class SequenceSubscriptionsView(V3View):
    def get(self, request, sequence_id):
        sequence = _get_or_404(Sequence, sequence_id, "Course not found", "")
        return Response(
            _subscriptions_page(
                SequenceSubscription.objects.filter(sequence=sequence),
                self.args_,
                kind="course",
                subscribable_id=sequence.pk,
            )
        )


class PurchasesView(V3View):
    def get(self, request):
        return Response(
            page_of(
                Purchase.objects.order_by("pk"),
                self.args_,
                "purchases",
                lambda rows: [purchase_kit_payload(p) for p in rows],
            )
        )

    def post(self, request):
        data = self.args_.get("purchase")
        if not isinstance(data, dict):
            raise V3Error(400, "Your request is missing parameters", "purchase can't be blank")
        try:
            purchase = purchase_create(data=data)
        except ValidationError as exc:
            raise V3Error(
                400, "Your request is missing parameters", " ".join(exc.messages)
            ) from None
        return Response(purchase_kit_payload(purchase), status=201)


class PurchaseView(V3View):
    def get(self, request, purchase_id):
        return Response(purchase_kit_payload(_get_or_404(Purchase, purchase_id)))


def _broadcast(b: Broadcast) -> dict:
    return {
        "id": b.pk,
        "created_at": _iso(b.created_at),
        "subject": b.subject,
        "content": b.content,
        "description": b.description or None,
        "email_address": b.email_address or None,
        "public": b.public,
        "published_at": _iso(b.published_at),
        "send_at": _iso(b.send_at),
        "thumbnail_alt": b.thumbnail_alt or None,
        "thumbnail_url": b.thumbnail_url or None,
        "email_layout_template": b.email_template.name if b.email_template else None,
    }


class BroadcastsView(V3View):
    def _values(self) -> dict:
        """The broadcast's attributes among the request's parameters (not the credentials)."""
        return {k: v for k, v in self.args_.items() if k not in ("api_key", "api_secret")}

    def get(self, request):
        return Response(
            {
                "broadcasts": whole_or_paged(
                    Broadcast.objects.order_by("pk"),
                    self.args_,
                    lambda rows: [
                        {"id": b.pk, "created_at": _iso(b.created_at), "subject": b.subject}
                        for b in rows
                    ],
                )
            }
        )

    def post(self, request):
        return Response(
            {
                "broadcast": _broadcast(
                    broadcast_write(broadcast=Broadcast(), values=self._values())
                )
            },
            status=201,
        )


class BroadcastView(V3View):
    def get(self, request, broadcast_id):
        return Response({"broadcast": _broadcast(_get_or_404(Broadcast, broadcast_id))})

    def put(self, request, broadcast_id):
        broadcast = _get_or_404(Broadcast, broadcast_id)
        values = BroadcastsView._values(self)
        return Response(
            {"broadcast": _broadcast(broadcast_write(broadcast=broadcast, values=values))}
        )

    def delete(self, request, broadcast_id):
        broadcast_delete(broadcast=_get_or_404(Broadcast, broadcast_id))
        return Response(status=204)


class BroadcastStatsView(V3View):
    def get(self, request, broadcast_id):
        broadcast = _get_or_404(Broadcast, broadcast_id)
        return Response({"broadcast": {"id": broadcast.pk, "stats": broadcast_stats(broadcast)}})


def _rule(hook: Hook) -> dict:
    event = {"name": hook.event_name}
    field = HOOK_EVENTS[hook.event_name][1]
    if field:
        event[field] = getattr(hook, field)
    return {"rule": {"id": hook.pk, "account_id": 1, "event": event, "target_url": hook.target_url}}


class HooksView(V3View):
    def post(self, request):
        event = self.args_.get("event")
        if not isinstance(event, dict) or not event.get("name"):
            raise unprocessable("event must be an object with a name.")
        name = str(event["name"]).split(".", 1)[-1]
        field = HOOK_EVENTS.get(name, (None, None))[1]
        value = event.get(field) if field else None
        if field == "sequence_id" and value in (None, ""):
            value = event.get("course_id")  # older docs and the PHP SDK say course_id
        if field in ("tag_id", "form_id", "sequence_id", "custom_field_id") and value not in (
            None,
            "",
        ):
            value = as_int(value, field)
        elif field and value not in (None, ""):
            value = as_text(value, field)
        try:
            hook = hook_create(
                event_name=str(event["name"]),
                target_url=str(self.args_.get("target_url") or ""),
                filter_value=value,
            )
        except ValidationError as exc:
            raise unprocessable(" ".join(exc.messages)) from None
        return Response(_rule(hook))


class HookView(V3View):
    def delete(self, request, hook_id):
        hook = _get_or_404(Hook, hook_id)
        endpoint = WebhookEndpoint.objects.filter(hook=hook).first()
        if endpoint is not None:
            # Deleting it would leave the endpoint "active" with nothing calling it.
            raise unprocessable(
                f"This hook is the built-in CRM's call to the Webhook Generator URL "
                f"{endpoint.label or endpoint}; it goes with that URL. Remove the trigger tag "
                "or revoke the URL in the Webhook Generator (or /api/v1/webhook-endpoints/) "
                "instead."
            )
        hook_delete(hook=hook)
        return Response({"success": True})
