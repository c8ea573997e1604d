"""Stripe's webhook: verify, store each event once by its id, and process it in a worker.

``checkout.session.completed`` and ``invoice.paid`` record a purchase (the same one for a
subscription's first invoice, which both name); ``charge.refunded``, a final
``invoice.payment_failed`` and ``customer.subscription.deleted`` apply what the product says.
Payloads are read as Stripe's API reference documents them, old and new API versions alike
(an invoice's subscription moved under ``parent`` in 2025)."""

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.crm.models import Subscriber
from config.doorbell import doorbell_ring
from config.throttle import window_hit

from .lock_objects import events_pending_claim
from .models import (
    EventStatus,
    Order,
    Price,
    PriceKind,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
)
from .services import Sale, consequence_apply, order_refund, price_for_slug, sale_check, sale_record

logger = logging.getLogger(__name__)

PRICE_METADATA_KEY = "tessera_price"
EVENTS_PER_RUN = 50
EVENT_STUCK_AFTER = timedelta(minutes=2)
EVENT_MAX_ATTEMPTS = 5
EVENT_RETRY_AFTER = timedelta(minutes=2)


class Flagged(Exception):
    """The event was recorded but gives no access; the message says why."""


class Ignored(Exception):
    """Not an event Tessera acts on; the message says why."""


def stripe_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET)


# Receiving ---------------------------------------------------------------------------------


def stripe_event_refuse(*, reason: str, remote_addr: str | None, http_status: int) -> StripeEvent:
    """Log a webhook that was refused. Its body is not kept: nobody vouched for it."""
    logger.warning("stripe webhook refused (%s) from %s", reason, remote_addr)
    window_hit(f"refused:{remote_addr}")  # shared with the Webhook Generator's refusals
    return StripeEvent.objects.create(
        status=EventStatus.REFUSED,
        http_status=http_status,
        remote_addr=remote_addr,
        error=reason,
        processed_at=timezone.now(),
    )


def stripe_event_receive(
    *, body: bytes, signature: str | None, remote_addr: str | None
) -> tuple[StripeEvent, bool]:
    """Verify the signature with Stripe's library (its tolerance refuses a stale timestamp)
    and store the event once by its id; the worker is rung after commit. Raises
    ``stripe.SignatureVerificationError`` or ``ValueError`` (not JSON) for the view to refuse.
    Returns the event and whether it is new (a redelivery is not)."""
    stripe.Webhook.construct_event(
        body,
        signature,
        settings.STRIPE_WEBHOOK_SECRET,
        tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
    )
    payload = json.loads(body)  # exactly what Stripe sent, now that it is verified
    if not isinstance(payload, dict):
        raise ValueError("The event is not a JSON object.")
    event_id = str(payload.get("id") or "")
    if not event_id:
        raise ValueError("The event has no id.")
    existing = StripeEvent.objects.filter(event_id=event_id).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            row = StripeEvent.objects.create(
                event_id=event_id,
                type=str(payload.get("type") or ""),
                payload=payload,
                status=EventStatus.PENDING,
                http_status=200,
                remote_addr=remote_addr,
            )
            transaction.on_commit(_kick, robust=True)
    except IntegrityError:  # the same event arrived twice at once; the other copy won
        return StripeEvent.objects.get(event_id=event_id), False
    return row, True


def _kick() -> None:
    from .tasks import stripe_events_process

    doorbell_ring(stripe_events_process)


@transaction.atomic
def stripe_event_replay(*, event: StripeEvent) -> None:
    """Process a stored event again (after fixing a price, say). Every handler is
    idempotent, so replaying one that worked changes nothing."""
    if event.status == EventStatus.REFUSED:
        raise ValidationError("A refused webhook has no verified event to replay.")
    StripeEvent.objects.filter(pk=event.pk).update(
        status=EventStatus.PENDING, error="", result="", processed_at=None
    )
    transaction.on_commit(_kick, robust=True)


# Processing --------------------------------------------------------------------------------


def stripe_events_process(
    *, limit: int = EVENTS_PER_RUN, received_before: datetime | None = None
) -> tuple[int, bool]:
    """Process pending events oldest first, each in its own transaction, claimed with SKIP
    LOCKED so two workers never take the same one. Returns (how many, maybe more)."""
    done = 0
    while done < limit:
        if not stripe_event_process(received_before=received_before):
            return done, False
        done += 1
    return done, True


@transaction.atomic
def stripe_event_process(
    *, pk: int | None = None, received_before: datetime | None = None
) -> StripeEvent | None:
    """Claim one pending event and process it; its effects and its status commit together.
    A handler that raises is rolled back to a savepoint (the claim's lock is kept) and the
    event is marked failed with the error, for the admin to replay."""
    event = next(iter(events_pending_claim(limit=1, pk=pk, received_before=received_before)), None)
    if event is None:
        return None
    event.attempts += 1
    event.error = ""
    try:
        with transaction.atomic():
            try:
                event.result, event.status = _handle(event.payload), EventStatus.DONE
            except Flagged as exc:  # the flagged order is kept: it is the record
                event.result, event.status = str(exc), EventStatus.FLAGGED
    except Ignored as exc:
        event.result, event.status = str(exc), EventStatus.IGNORED
    except Exception as exc:  # any failure is this event's own: logged, shown, replayable
        logger.exception("stripe event %s failed", event.event_id)
        message = " ".join(exc.messages) if isinstance(exc, ValidationError) else repr(exc)
        event.result, event.status, event.error = "", EventStatus.FAILED, message[:2000]
    event.processed_at = timezone.now()
    event.save(update_fields=["attempts", "result", "status", "error", "processed_at"])
    return event


def stripe_events_resume_stuck() -> int:
    """Events stored but never processed (a lost ring, a dead worker): process them now;
    and retry an event that failed (a deadlock, a lost connection, Stripe's API down for a
    plan's cancel), after a pause that grows with each attempt, up to EVENT_MAX_ATTEMPTS."""
    now = timezone.now()
    for attempts in range(1, EVENT_MAX_ATTEMPTS):
        StripeEvent.objects.filter(
            status=EventStatus.FAILED,
            attempts=attempts,
            processed_at__lt=now - EVENT_RETRY_AFTER * attempts,
        ).update(status=EventStatus.PENDING)
    done, more = 0, True
    before = now - EVENT_STUCK_AFTER
    while more:
        ran, more = stripe_events_process(received_before=before)
        done += ran
    return done


def _handle(payload: dict) -> str:
    handler = HANDLERS.get(payload.get("type", ""))
    if handler is None:
        raise Ignored(f"Tessera does not act on {payload.get('type')!r} events.")
    obj = (payload.get("data") or {}).get("object") or {}
    return handler(obj, payload)


# Reading Stripe's objects ------------------------------------------------------------------


def _when(timestamp) -> datetime | None:
    return datetime.fromtimestamp(int(timestamp), tz=UTC) if timestamp else None


def _money(cents) -> Decimal:
    return Decimal(int(cents or 0)) / 100


def _invoice_subscription(invoice: dict) -> str:
    parent = (invoice.get("parent") or {}).get("subscription_details") or {}
    return str(invoice.get("subscription") or parent.get("subscription") or "")


def _invoice_metadata(invoice: dict) -> dict:
    details = invoice.get("subscription_details") or {}
    parent = (invoice.get("parent") or {}).get("subscription_details") or {}
    return details.get("metadata") or parent.get("metadata") or {}


def _period_end(obj: dict) -> datetime | None:
    """A subscription's (or an invoice line's) current period end, wherever the API version
    puts it."""
    if obj.get("current_period_end"):
        return _when(obj["current_period_end"])
    for item in (obj.get("items") or obj.get("lines") or {}).get("data") or []:
        if item.get("current_period_end"):
            return _when(item["current_period_end"])
        if (item.get("period") or {}).get("end"):
            return _when(item["period"]["end"])
    return None


def _receipt_from_earlier_charge(payment_intent: str) -> str:
    """charge.succeeded may arrive before checkout.session.completed: its receipt URL."""
    if not payment_intent:
        return ""
    earlier = (
        StripeEvent.objects.filter(
            type__in=["charge.succeeded", "charge.updated"],
            payload__data__object__payment_intent=payment_intent,
        )
        .order_by("-pk")
        .values_list("payload", flat=True)
        .first()
    )
    return ((earlier or {}).get("data") or {}).get("object", {}).get("receipt_url") or ""


# Handlers -----------------------------------------------------------------------------------


def _checkout_completed(session: dict, event: dict) -> str:
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        raise Ignored(
            "The session is not paid yet (a delayed payment method): the purchase is recorded "
            "by checkout.session.async_payment_succeeded."
        )
    metadata = session.get("metadata") or {}
    slug = metadata.get(PRICE_METADATA_KEY)
    if not slug and session.get("payment_link"):
        raise Ignored(
            "A Payment Link sale: mint a purchase URL for its offering in the Webhook Generator "
            "(cart: Stripe Payment Link) and point the link's webhook there."
        )
    price = price_for_slug(slug)
    email = (session.get("customer_details") or {}).get("email") or session.get("customer_email")
    if not email:
        raise ValidationError("The session names no customer email.")
    mode = session.get("mode")
    payment_intent = str(session.get("payment_intent") or "")
    invoice = str(session.get("invoice") or "")
    external_id = (invoice if mode == "subscription" else payment_intent) or session["id"]
    currency = str(session.get("currency") or "").upper()
    flag = sale_check(
        price=price,
        price_ref=slug or "(none in the session's metadata)",
        currency=currency,
        amount_cents=int(session.get("amount_subtotal") or 0),
    )
    sale = Sale(
        source="checkout",
        external_id=external_id,
        email=email,
        first_name=((session.get("customer_details") or {}).get("name") or "").split(" ")[0],
        currency=currency,
        amount=_money(session.get("amount_total")),
        subtotal=_money(session.get("amount_subtotal")),
        discount=_money((session.get("total_details") or {}).get("amount_discount")),
        tax=_money((session.get("total_details") or {}).get("amount_tax")),
        description=str(price) if price else f"Checkout {session['id']}",
        paid_at=_when(session.get("created")),
        receipt_url=_receipt_from_earlier_charge(payment_intent),
        stripe={
            "customer": session.get("customer"),
            "payment_intent": payment_intent,
            "subscription": session.get("subscription"),
            "checkout_session": session["id"],
        },
    )
    order, created = sale_record(
        sale=sale, offering=price.product.offering if price else None, price=price, flag=flag
    )
    if order.checkout_session != session["id"]:  # invoice.paid came first and made the order
        Order.objects.filter(pk=order.pk).update(checkout_session=session["id"])
    if flag:
        raise Flagged(flag)
    if mode == "subscription" and session.get("subscription"):
        _subscription_upsert(
            stripe_id=str(session["subscription"]),
            subscriber=order.subscriber,
            price=price,
            customer=str(session.get("customer") or ""),
        )
    return f"{order.subscriber.email}: " + ("purchase recorded" if created else "already recorded")


def _subscription_upsert(
    *, stripe_id: str, subscriber: Subscriber, price: Price | None, customer: str
) -> Subscription:
    subscription, _ = Subscription.objects.get_or_create(
        stripe_id=stripe_id,
        defaults={
            "subscriber": subscriber,
            "price": price,
            "stripe_customer": customer,
            "started_at": timezone.now(),
        },
    )
    return subscription


def _invoice_paid(invoice: dict, event: dict) -> str:
    subscription_id = _invoice_subscription(invoice)
    if not subscription_id:
        raise Ignored("A one-off invoice: Checkout's own event records one-time payments.")
    known = (
        Subscription.objects.select_related("price__product__offering")
        .filter(stripe_id=subscription_id)
        .first()
    )
    slug = _invoice_metadata(invoice).get(PRICE_METADATA_KEY)
    price = known.price if known and known.price else price_for_slug(slug)
    email = invoice.get("customer_email")
    if not email:
        raise ValidationError("The invoice names no customer email.")
    currency = str(invoice.get("currency") or "").upper()
    flag = sale_check(
        price=price,
        price_ref=slug or "(none in the subscription's metadata)",
        currency=currency,
        amount_cents=int(invoice.get("subtotal") or invoice.get("amount_paid") or 0),
    )
    sale = Sale(
        source="checkout",
        external_id=str(invoice["id"]),
        email=email,
        first_name=(invoice.get("customer_name") or "").split(" ")[0],
        currency=currency,
        amount=_money(invoice.get("amount_paid")),
        subtotal=_money(invoice.get("subtotal")),
        discount=_money(int(invoice.get("subtotal") or 0) - int(invoice.get("total") or 0)),
        tax=_money(invoice.get("tax")),
        description=str(price) if price else f"Invoice {invoice['id']}",
        paid_at=_when((invoice.get("status_transitions") or {}).get("paid_at"))
        or _when(invoice.get("created")),
        receipt_url=invoice.get("hosted_invoice_url") or "",
        stripe={
            "customer": invoice.get("customer"),
            "subscription": subscription_id,
            # Older API versions name it here; a refund of this payment finds the order by it.
            "payment_intent": invoice.get("payment_intent"),
        },
    )
    order, created = sale_record(
        sale=sale, offering=price.product.offering if price else None, price=price, flag=flag
    )
    if flag:
        raise Flagged(flag)
    subscription = _subscription_upsert(
        stripe_id=subscription_id,
        subscriber=order.subscriber,
        price=price,
        customer=str(invoice.get("customer") or ""),
    )
    return f"{order.subscriber.email}: " + _renewal_note(subscription, invoice, created=created)


def _renewal_note(subscription: Subscription, invoice: dict, *, created: bool) -> str:
    paid = Order.objects.filter(
        stripe_subscription=subscription.stripe_id, purchase__isnull=False
    ).count()
    subscription.instalments_paid = paid
    subscription.current_period_end = _period_end(invoice) or subscription.current_period_end
    if subscription.status == SubscriptionStatus.PAST_DUE:
        subscription.status = SubscriptionStatus.ACTIVE
    note = "payment recorded" if created else "payment already recorded"
    price = subscription.price
    if price and price.kind == PriceKind.PLAN and paid >= price.instalments:
        if not subscription.cancel_at_period_end:
            # The plan is paid in full: no further charge. The deletion Stripe sends at the
            # period's end is then a completion, not a cancellation.
            stripe.Subscription.modify(
                subscription.stripe_id,
                cancel_at_period_end=True,
                api_key=settings.STRIPE_SECRET_KEY,
            )
            subscription.cancel_at_period_end = True
        note += f"; plan paid in full ({paid} of {price.instalments})"
    subscription.save()
    return note


def _subscription_for(obj_id: str) -> Subscription:
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("price__product__offering", "subscriber")
        .filter(stripe_id=obj_id)
        .first()
    )
    if subscription is None:
        raise Ignored(f"No subscription {obj_id} was sold through Tessera.")
    return subscription


def _payment_failed(invoice: dict, event: dict) -> str:
    subscription = _subscription_for(_invoice_subscription(invoice))
    if invoice.get("next_payment_attempt"):
        subscription.status = SubscriptionStatus.PAST_DUE
        subscription.save(update_fields=["status"])
        retry = _when(invoice["next_payment_attempt"])
        return f"payment failed; Stripe retries on {retry:%Y-%m-%d %H:%M} UTC, access kept"
    if subscription.status == SubscriptionStatus.CANCELED:
        return "payment failed again; the subscription had already ended"
    subscription.status = SubscriptionStatus.PAST_DUE
    subscription.save(update_fields=["status"])
    done = consequence_apply(
        subscriber=subscription.subscriber,
        offering=None,
        price=subscription.price,
        what="on_failed_renewal",
        source=f"stripe:{event.get('id')}",
    )
    return f"the last retry failed; {done}"


def _subscription_deleted(obj: dict, event: dict) -> str:
    subscription = _subscription_for(str(obj.get("id")))
    if subscription.status in (SubscriptionStatus.CANCELED, SubscriptionStatus.COMPLETED):
        return "the subscription had already ended"
    subscription.ended_at = _when(obj.get("ended_at")) or timezone.now()
    price = subscription.price
    if (
        price
        and price.kind == PriceKind.PLAN
        and subscription.instalments_paid >= price.instalments
    ):
        subscription.status = SubscriptionStatus.COMPLETED
        subscription.save(update_fields=["status", "ended_at"])
        return "the payment plan is complete; access kept"
    subscription.status = SubscriptionStatus.CANCELED
    subscription.save(update_fields=["status", "ended_at"])
    done = consequence_apply(
        subscriber=subscription.subscriber,
        offering=None,
        price=price,
        what="on_cancel",
        source=f"stripe:{event.get('id')}",
    )
    return f"subscription canceled; {done}"


def _subscription_updated(obj: dict, event: dict) -> str:
    subscription = _subscription_for(str(obj.get("id")))
    subscription.cancel_at_period_end = bool(obj.get("cancel_at_period_end"))
    subscription.current_period_end = _period_end(obj) or subscription.current_period_end
    if obj.get("status") == "past_due":
        subscription.status = SubscriptionStatus.PAST_DUE
    elif obj.get("status") in ("active", "trialing"):
        subscription.status = SubscriptionStatus.ACTIVE
    subscription.save(update_fields=["cancel_at_period_end", "current_period_end", "status"])
    ends = " (ends at the period's end)" if subscription.cancel_at_period_end else ""
    return f"subscription {subscription.status}{ends}"


def _charge_refunded(charge: dict, event: dict) -> str:
    payment_intent = str(charge.get("payment_intent") or "")
    invoice = str(charge.get("invoice") or "")
    order = None
    if payment_intent:
        order = Order.objects.filter(stripe_payment_intent=payment_intent).first()
    if order is None and invoice:
        order = Order.objects.filter(external_id=invoice).first()
    if order is None:
        raise Ignored("No order Tessera recorded is paid by this charge.")
    full = bool(charge.get("refunded")) or int(charge.get("amount_refunded") or 0) >= int(
        charge.get("amount") or 0
    )
    done = order_refund(
        order=order,
        amount_refunded=_money(charge.get("amount_refunded")),
        full=full,
        source=f"stripe:{event.get('id')}",
    )
    return f"{order.subscriber.email}: {done}"


def _charge_succeeded(charge: dict, event: dict) -> str:
    receipt = charge.get("receipt_url") or ""
    payment_intent = str(charge.get("payment_intent") or "")
    updated = 0
    if receipt and payment_intent:
        updated = Order.objects.filter(stripe_payment_intent=payment_intent, receipt_url="").update(
            receipt_url=receipt
        )
    return "receipt linked to the order" if updated else "receipt kept for the order to come"


HANDLERS: dict[str, Callable[[dict, dict], str]] = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "invoice.paid": _invoice_paid,
    "invoice.payment_failed": _payment_failed,
    "customer.subscription.deleted": _subscription_deleted,
    "customer.subscription.updated": _subscription_updated,
    "charge.refunded": _charge_refunded,
    "charge.succeeded": _charge_succeeded,
}
