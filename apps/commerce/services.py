"""Sales: recording a paid order (from Checkout or a cart) as the CRM's Kit-shaped Purchase
plus the product's tags, flagging one that does not match its price, and applying what a
refund, a failed renewal or a cancellation does."""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.crm.models import Subscriber
from apps.crm.services import subscriber_get_or_create
from apps.crm.signups import purchase_create
from apps.offerings.models import Offering
from apps.tags.services import taggings_add, taggings_remove

from .lock_objects import order_for_update
from .models import Consequence, Order, OrderStatus, Price, PriceKind, Product

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sale:
    """A payment as any source reports it, already in Tessera's words."""

    source: str
    external_id: str
    email: str
    currency: str
    amount: Decimal
    description: str
    first_name: str = ""
    subtotal: Decimal | None = None
    discount: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    product_ref: str = ""
    paid_at: datetime | None = None
    receipt_url: str = ""
    stripe: dict = field(default_factory=dict)


@transaction.atomic
def product_create(
    *,
    offering: Offering,
    name: str,
    slug: str,
    amount: Decimal,
    currency: str = "USD",
    kind: str = PriceKind.ONE_TIME,
    instalments: int = 0,
    description: str = "",
) -> Price:
    """Put an offering on sale: a product and its first price (whose order form is
    ``/buy/<slug>/``). Returns the price."""
    if Price.objects.filter(slug=slug).exists():
        raise ValidationError(f"A price already uses the address /buy/{slug}/; choose another.")
    if amount <= 0:
        raise ValidationError("The amount must be more than zero.")
    price = Price(
        slug=slug, amount=amount, currency=currency.upper(), kind=kind, instalments=instalments
    )
    if price.is_plan and instalments < 2:
        raise ValidationError("A payment plan needs at least two instalments.")
    price.product = Product.objects.create(offering=offering, name=name, description=description)
    price.save(force_insert=True)
    return price


def product_for(*, offering: Offering, price: Price | None) -> Product | None:
    if price is not None:
        return price.product
    return offering.products.filter(active=True).order_by("pk").first()


def _success_tag_ids(*, offering: Offering, product: Product | None) -> list[int]:
    chosen = list(product.success_tags.values_list("pk", flat=True)) if product else []
    return chosen or [offering.purchase_tag_id]


@transaction.atomic
def sale_record(
    *, sale: Sale, offering: Offering | None, price: Price | None = None, flag: str = ""
) -> tuple[Order, bool]:
    """Record a sale once (by its external id): a paid one becomes a Kit-shaped ``Purchase``
    and the product's tags, in this transaction; a flagged one (``flag`` says why) is kept
    for the creator to look at and gives nothing. Returns the order and whether it is new."""
    existing = Order.objects.filter(external_id=sale.external_id).first()
    if existing is not None:
        if sale.receipt_url and not existing.receipt_url:
            Order.objects.filter(pk=existing.pk).update(receipt_url=sale.receipt_url)
        return existing, False
    try:
        with transaction.atomic():
            return _sale_create(sale=sale, offering=offering, price=price, flag=flag), True
    except IntegrityError:
        # The same payment recorded by another worker at this moment (a subscription's first
        # invoice arrives as checkout.session.completed and invoice.paid): theirs stands.
        return Order.objects.get(external_id=sale.external_id), False


def _sale_create(*, sale: Sale, offering: Offering | None, price: Price | None, flag: str):
    subscriber, _ = subscriber_get_or_create(email=sale.email, first_name=sale.first_name)
    order = Order(
        external_id=sale.external_id,
        source=sale.source,
        subscriber=subscriber,
        offering=offering,
        price=price,
        description=sale.description[:300],
        currency=sale.currency,
        amount=sale.amount,
        receipt_url=sale.receipt_url,
        paid_at=sale.paid_at or timezone.now(),
        stripe_customer=sale.stripe.get("customer") or "",
        stripe_payment_intent=sale.stripe.get("payment_intent") or "",
        stripe_subscription=sale.stripe.get("subscription") or "",
        checkout_session=sale.stripe.get("checkout_session") or "",
    )
    if flag:
        order.status, order.flag_reason = OrderStatus.FLAGGED, flag
        order.save()
        logger.warning("order %s flagged: %s", sale.external_id, flag)
        return order
    if offering is None:
        raise ValidationError("A paid sale needs the offering it gives access to.")
    product = product_for(offering=offering, price=price)
    subtotal = sale.amount + sale.discount if sale.subtotal is None else sale.subtotal
    order.purchase = purchase_create(
        data={
            "transaction_id": sale.external_id,
            "email_address": subscriber.email,
            "status": "paid",
            "currency": sale.currency,
            "transaction_time": order.paid_at.isoformat(),
            "subtotal": str(subtotal),
            "discount": str(sale.discount),
            "tax": str(sale.tax),
            "total": str(sale.amount),
            "products": [
                {
                    "pid": str(product.pk if product else sale.product_ref or offering.pk),
                    "lid": str(price.pk if price else sale.product_ref or offering.pk),
                    "name": product.name if product else sale.description[:255],
                    "sku": price.slug if price else sale.product_ref,
                    "unit_price": float(subtotal),
                    "quantity": 1,
                }
            ],
        }
    )
    order.status = OrderStatus.PAID
    order.save()
    taggings_add(
        pairs=[(subscriber.pk, t) for t in _success_tag_ids(offering=offering, product=product)],
        source=f"purchase:{sale.source}",
    )
    return order


def sale_check(*, price: Price | None, price_ref: str, currency: str, amount_cents: int) -> str:
    """Why a payment does not match the price it claims ("" when it does): an unknown price,
    another currency, another amount (before discounts, which coupons explain)."""
    if price is None:
        return f"Unknown price {price_ref!r}: no active price has this slug; no access given."
    if currency.upper() != price.currency.upper():
        return (
            f"Currency mismatch: paid in {currency.upper()}, the price is in "
            f"{price.currency.upper()}; no access given."
        )
    if amount_cents != price.amount_cents:
        return (
            f"Amount mismatch: {Decimal(amount_cents) / 100} {currency.upper()} before "
            f"discounts, the price is {price.amount} {price.currency}; no access given."
        )
    return ""


def consequence_apply(
    *,
    subscriber: Subscriber,
    offering: Offering | None,
    price: Price | None,
    what: str,
    source: str,
) -> str:
    """Do what the product says (``what``: on_refund, on_failed_renewal, on_cancel). Revoking
    goes through the offering's Revoke Access tag, so the guide's revoke flow (and whatever
    else listens to that tag) runs as for any other revoke."""
    if offering is None and price is not None:
        offering = price.product.offering
    if offering is None:
        return "no offering known: nothing to revoke"
    product = product_for(offering=offering, price=price)
    consequence = getattr(product, what) if product else Consequence.REVOKE
    if consequence == Consequence.REVOKE:
        taggings_add(pairs=[(subscriber.pk, offering.revoke_tag_id)], source=source)
        return "access revoked (the offering's Revoke Access tag was added)"
    if consequence == Consequence.REMOVE_TAGS:
        pairs = [(subscriber.pk, t) for t in _success_tag_ids(offering=offering, product=product)]
        removed = taggings_remove(pairs=pairs, source=source)
        return f"{len(removed)} purchase tag(s) removed"
    return "recorded only (the product says to do nothing)"


@transaction.atomic
def order_refund(*, order: Order, amount_refunded: Decimal, full: bool, source: str) -> str:
    """Record a refund on an order; a full one applies the product's refund consequence,
    once."""
    order = order_for_update(order_id=order.pk)
    was_refunded = order.status == OrderStatus.REFUNDED
    order.amount_refunded = amount_refunded
    if full:
        order.status = OrderStatus.REFUNDED
        order.refunded_at = order.refunded_at or timezone.now()
    elif order.status != OrderStatus.FLAGGED:
        order.status = OrderStatus.PARTIALLY_REFUNDED
    order.save(update_fields=["amount_refunded", "status", "refunded_at"])
    if not full:
        return f"partial refund of {amount_refunded} {order.currency} recorded"
    if was_refunded:
        return "already refunded: nothing more to do"
    if order.purchase_id is None:
        return "refund recorded (the order had given no access)"
    done = consequence_apply(
        subscriber=order.subscriber,
        offering=order.offering,
        price=order.price,
        what="on_refund",
        source=source,
    )
    return f"refunded; {done}"


def price_for_slug(slug: str | None) -> Price | None:
    if not slug:
        return None
    return Price.objects.select_related("product__offering").filter(slug=slug, active=True).first()
