"""The Webhook Generator's "purchase" operation: each cart's documented order notice, read
into a ``Sale`` and recorded like a Checkout sale (the same Purchase and tags).

- ThriveCart: a form post, ``event=order.success``, ``customer[email]``, ``order_id``,
  ``order[total]`` in cents, checked with ``thrivecart_secret`` (the account's secret word).
- SamCart: JSON ``{"type": "Order", "order": {...}, "customer": {...}, "products": [...]}``.
  SamCart documents no signature: the minted URL's own HMAC is the only check.
- WooCommerce: the order resource as JSON, ``billing.email``, ``total`` as a decimal string,
  signed in ``X-WC-Webhook-Signature`` (base64 HMAC-SHA256 of the body, the webhook secret).
- Gumroad: the ping, a form post with ``email``, ``sale_id``, ``price`` in cents, checked
  with ``seller_id`` (Gumroad signs nothing; the seller id is its documented check).
- Stripe Payment Links: Stripe's ``checkout.session.completed``, verified with the endpoint's
  signing secret by the library.
"""

import base64
import hashlib
import hmac
from decimal import Decimal, InvalidOperation

import stripe
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.members.purchases import Cart, CartRequest

from .services import Sale, sale_record


def _get(payload: dict, *paths: str):
    """The first value found under any of ``paths``: a flat form key (``customer[email]``),
    or a dotted path into nested JSON (``customer.email``)."""
    for path in paths:
        if path in payload and payload[path] not in (None, ""):
            return payload[path]
        node = payload
        for part in path.replace("[", ".").replace("]", "").split("."):
            if isinstance(node, list) and part.isdigit():
                node = node[int(part)] if int(part) < len(node) else None
            else:
                node = node.get(part) if isinstance(node, dict) else None
        if node not in (None, ""):
            return node
    return None


def _decimal(value, *, cents: bool, name: str) -> Decimal:
    try:
        amount = Decimal(str(value if value not in (None, "") else 0))
    except InvalidOperation:
        raise ValidationError(f"{name} is not a number: {value!r}.") from None
    return amount / 100 if cents else amount


def _email(payload: dict, *paths: str) -> str:
    email = _get(payload, *paths)
    if not isinstance(email, str) or "@" not in email:
        raise ValidationError(f"No buyer email in the order: expected it in {', '.join(paths)}.")
    return email


def _first(payload, *paths) -> str:
    value = _get(payload, *paths)
    return str(value).strip().split(" ")[0] if value else ""


def _thrivecart(payload: dict) -> Sale:
    order_id = _get(payload, "order_id")
    if not order_id:
        raise ValidationError("No order_id in ThriveCart's notice.")
    return Sale(
        source="thrivecart",
        external_id=f"thrivecart:{order_id}",
        email=_email(payload, "customer[email]", "customer.email"),
        first_name=_first(payload, "customer[firstname]", "customer[first_name]"),
        currency=str(_get(payload, "currency") or "USD").upper(),
        amount=_decimal(_get(payload, "order[total]"), cents=True, name="order[total]"),
        tax=_decimal(_get(payload, "order[tax]"), cents=True, name="order[tax]"),
        product_ref=str(_get(payload, "base_product") or ""),
        description=str(_get(payload, "base_product_name", "order[charges][0][name]") or "")
        or f"ThriveCart product {_get(payload, 'base_product')}",
    )


def _samcart(payload: dict) -> Sale:
    order_id = _get(payload, "order.id", "order_id")
    if not order_id:
        raise ValidationError("No order.id in SamCart's notice.")
    return Sale(
        source="samcart",
        external_id=f"samcart:{order_id}",
        email=_email(payload, "customer.email", "customer_email"),
        first_name=_first(payload, "customer.first_name"),
        currency=str(_get(payload, "order.currency", "currency") or "USD").upper(),
        amount=_decimal(_get(payload, "order.total"), cents=False, name="order.total"),
        tax=_decimal(_get(payload, "order.tax"), cents=False, name="order.tax"),
        product_ref=str(_get(payload, "products.0.id") or ""),
        description=str(_get(payload, "products.0.name") or f"SamCart order {order_id}"),
    )


WOOCOMMERCE_PAID = ("processing", "completed")


def _woocommerce(payload: dict) -> Sale:
    order_id = _get(payload, "id")
    if not order_id:
        raise ValidationError("No order id in WooCommerce's order.")
    line = (payload.get("line_items") or [{}])[0] if isinstance(payload, dict) else {}
    return Sale(
        source="woocommerce",
        external_id=f"woocommerce:{_get(payload, 'order_key') or order_id}",
        email=_email(payload, "billing.email"),
        first_name=_first(payload, "billing.first_name"),
        currency=str(_get(payload, "currency") or "USD").upper(),
        amount=_decimal(_get(payload, "total"), cents=False, name="total"),
        discount=_decimal(_get(payload, "discount_total"), cents=False, name="discount_total"),
        tax=_decimal(_get(payload, "total_tax"), cents=False, name="total_tax"),
        product_ref=str(line.get("product_id") or ""),
        description=str(line.get("name") or f"WooCommerce order {order_id}"),
    )


def _gumroad(payload: dict) -> Sale:
    sale_id = _get(payload, "sale_id")
    if not sale_id:
        raise ValidationError("No sale_id in Gumroad's ping.")
    return Sale(
        source="gumroad",
        external_id=f"gumroad:{sale_id}",
        email=_email(payload, "email", "purchase_email"),
        first_name=_first(payload, "full_name"),
        currency=str(_get(payload, "currency") or "USD").upper(),
        amount=_decimal(_get(payload, "price"), cents=True, name="price"),
        product_ref=str(_get(payload, "product_id", "product_permalink") or ""),
        description=str(_get(payload, "product_name") or f"Gumroad sale {sale_id}"),
    )


def _stripe_link(payload: dict) -> Sale:
    session = (payload.get("data") or {}).get("object") or {}
    email = (session.get("customer_details") or {}).get("email") or session.get("customer_email")
    if not email:
        raise ValidationError("The session names no customer email.")
    return Sale(
        source="stripe_link",
        external_id=str(session.get("payment_intent") or session.get("invoice") or session["id"]),
        email=email,
        first_name=((session.get("customer_details") or {}).get("name") or "").split(" ")[0],
        currency=str(session.get("currency") or "usd").upper(),
        amount=Decimal(int(session.get("amount_total") or 0)) / 100,
        description=f"Payment Link {session.get('payment_link') or session.get('id')}",
        stripe={
            "customer": session.get("customer"),
            "payment_intent": session.get("payment_intent"),
            "subscription": session.get("subscription"),
            "checkout_session": session.get("id"),
        },
    )


READERS = {
    Cart.THRIVECART: _thrivecart,
    Cart.SAMCART: _samcart,
    Cart.WOOCOMMERCE: _woocommerce,
    Cart.GUMROAD: _gumroad,
    Cart.STRIPE_LINK: _stripe_link,
}


def _same(given, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def _woocommerce_ping(request: CartRequest) -> bool:
    """WooCommerce's delivery test when a webhook is saved: ``webhook_id=N``, unsigned."""
    return set(request.payload) == {"webhook_id"}


class CartPurchases:
    """The handler ``apps.members`` calls for purchase URLs."""

    def refusal(self, *, endpoint, request: CartRequest) -> str | None:
        cart, secret, payload = endpoint.cart, endpoint.cart_secret, request.payload
        if cart == Cart.THRIVECART and not _same(_get(payload, "thrivecart_secret"), secret):
            return (
                "thrivecart_secret does not match the secret word this URL was minted with "
                "(ThriveCart: Settings > API & Webhooks)."
            )
        if cart == Cart.WOOCOMMERCE and not _woocommerce_ping(request):
            given = request.headers.get("X-WC-Webhook-Signature", "")
            expected = base64.b64encode(
                hmac.new(secret.encode(), request.body, hashlib.sha256).digest()
            ).decode()
            if not _same(given, expected):
                return (
                    "X-WC-Webhook-Signature is missing or does not match the webhook secret "
                    "this URL was minted with."
                )
        if cart == Cart.GUMROAD and not _same(_get(payload, "seller_id"), secret):
            return "seller_id is not the Gumroad seller id this URL was minted with."
        if cart == Cart.STRIPE_LINK:
            try:
                stripe.Webhook.construct_event(
                    request.body, request.headers.get("Stripe-Signature"), secret
                )
            except (stripe.SignatureVerificationError, ValueError) as exc:
                return f"Stripe-Signature does not verify with this URL's signing secret: {exc}"
        return None

    def skipped(self, *, endpoint, request: CartRequest) -> str | None:
        cart, payload = endpoint.cart, request.payload
        if cart == Cart.THRIVECART and _get(payload, "event") not in (None, "order.success"):
            return f"ThriveCart event {_get(payload, 'event')!r} is not a purchase."
        if cart == Cart.SAMCART:
            kind = str(_get(payload, "type", "event") or "order").lower()
            if "order" not in kind:
                return f"SamCart notice {kind!r} is not an order."
        if cart == Cart.WOOCOMMERCE:
            if _woocommerce_ping(request):
                return "WooCommerce's delivery test: nothing to record."
            if _get(payload, "status") not in WOOCOMMERCE_PAID:
                return (
                    f"Order status {_get(payload, 'status')!r} is not paid yet; the order is "
                    "recorded when WooCommerce sends it as processing or completed."
                )
        if cart == Cart.GUMROAD:
            if str(_get(payload, "refunded") or "false").lower() == "true":
                return "A refunded Gumroad sale is not a purchase."
            if _get(payload, "resource_name") not in (None, "sale"):
                return f"Gumroad resource {_get(payload, 'resource_name')!r} is not a sale."
        if cart == Cart.STRIPE_LINK and payload.get("type") != "checkout.session.completed":
            return f"Stripe event {payload.get('type')!r} is not a completed checkout."
        return None

    def delivery_id(self, *, endpoint, request: CartRequest) -> str:
        try:
            return READERS[endpoint.cart](request.payload).external_id
        except (ValidationError, KeyError, TypeError):
            return ""  # the call is accepted and fails in the worker, saying what is missing

    @transaction.atomic
    def apply(self, *, endpoint, payload: dict, source: str):
        reader = READERS.get(endpoint.cart)
        if reader is None:
            raise ValidationError(f"This purchase URL names no known cart ({endpoint.cart!r}).")
        sale = reader(payload)
        order, created = sale_record(sale=sale, offering=endpoint.offering)
        done = (
            f"purchase recorded ({order.amount} {order.currency}, {order.external_id})"
            if created
            else f"order {order.external_id} was already recorded: nothing changed"
        )
        return order.subscriber, done
