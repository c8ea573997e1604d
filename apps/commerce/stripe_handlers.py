"""What each Stripe event Tessera acts on does. Payloads are read as Stripe's API reference
documents them, old and new API versions alike (an invoice's subscription moved under
``parent`` in 2025, a subscription's period end under its items)."""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.crm.models import Subscriber

from .lock_objects import subscription_for_update
from .models import (
    Order,
    Price,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
)
from .services import Sale, consequence_apply, order_refund, price_for_slug, sale_check, sale_record

logger = logging.getLogger(__name__)

PRICE_METADATA_KEY = "tessera_price"


class Flagged(Exception):
    """The event was recorded but gives no access; the message says why."""


class Ignored(Exception):
    """Not an event Tessera acts on; the message says why."""


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


def _checkout_refuse_unready(session: dict, slug: str | None) -> None:
    """Ignore a session that is not paid yet or that a Payment Link made."""
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        raise Ignored(
            "The session is not paid yet (a delayed payment method): the purchase is recorded "
            "by checkout.session.async_payment_succeeded."
        )
    if not slug and session.get("payment_link"):
        raise Ignored(
            "A Payment Link sale: mint a purchase URL for its offering in the Webhook Generator "
            "(cart: Stripe Payment Link) and point the link's webhook there."
        )


def _checkout_sale(session: dict, *, price: Price | None, email: str, currency: str) -> Sale:
    """The sale a completed Checkout session records."""
    customer = session.get("customer_details") or {}
    totals = session.get("total_details") or {}
    payment_intent = str(session.get("payment_intent") or "")
    invoice = str(session.get("invoice") or "")
    external_id = (invoice if session.get("mode") == "subscription" else payment_intent) or (
        session["id"]
    )
    return Sale(
        source="checkout",
        external_id=external_id,
        email=email,
        first_name=(customer.get("name") or "").split(" ")[0],
        currency=currency,
        amount=_money(session.get("amount_total")),
        subtotal=_money(session.get("amount_subtotal")),
        discount=_money(totals.get("amount_discount")),
        tax=_money(totals.get("amount_tax")),
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


def _checkout_completed(session: dict, event: dict) -> str:
    slug = (session.get("metadata") or {}).get(PRICE_METADATA_KEY)
    _checkout_refuse_unready(session, slug)
    price = price_for_slug(slug)
    email = (session.get("customer_details") or {}).get("email") or session.get("customer_email")
    if not email:
        raise ValidationError("The session names no customer email.")
    currency = str(session.get("currency") or "").upper()
    flag = sale_check(
        price=price,
        price_ref=slug or "(none in the session's metadata)",
        currency=currency,
        amount_cents=int(session.get("amount_subtotal") or 0),
    )
    sale = _checkout_sale(session, price=price, email=email, currency=currency)
    order, created = sale_record(
        sale=sale, offering=price.product.offering if price else None, price=price, flag=flag
    )
    if order.checkout_session != session["id"]:  # invoice.paid came first and made the order
        Order.objects.filter(pk=order.pk).update(checkout_session=session["id"])
    if flag:
        raise Flagged(flag)
    if session.get("mode") == "subscription" and session.get("subscription"):
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
    if price and price.is_plan and paid >= price.instalments:
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
    subscription = subscription_for_update(stripe_id=obj_id)
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
    if price and price.is_plan and subscription.instalments_paid >= price.instalments:
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
