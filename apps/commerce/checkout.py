"""Calls to Stripe's API: a Checkout Session per order, a customer-portal session for My
orders. Made from the web request (the buyer waits for the redirect); nothing is written
here: what the buyer paid arrives by the webhook."""

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.crm.models import Subscriber

from .models import Order, Price, PriceKind, Subscription
from .stripe_handlers import PRICE_METADATA_KEY

# What a buyer is told when Stripe cannot be reached or refuses: the order form stays.
STRIPE_DOWN = "The payment page could not be opened ({}); please try again in a minute."

_INTERVALS = {PriceKind.MONTHLY: "month", PriceKind.PLAN: "month", PriceKind.YEARLY: "year"}


def _line_item(price: Price) -> dict:
    if price.stripe_price_id:
        return {"price": price.stripe_price_id, "quantity": 1}
    data = {
        "currency": price.currency.lower(),
        "unit_amount": price.amount_cents,
        "product_data": {"name": price.product.name},
    }
    if price.recurring:
        data["recurring"] = {"interval": _INTERVALS[price.kind]}
    return {"price_data": data, "quantity": 1}


def customer_of(subscriber: Subscriber | None) -> str:
    """The Stripe customer this subscriber last paid as ("" if none)."""
    if subscriber is None:
        return ""
    for model in (Subscription, Order):
        customer = (
            model.objects.filter(subscriber=subscriber)
            .exclude(stripe_customer="")
            .order_by("-pk")
            .values_list("stripe_customer", flat=True)
            .first()
        )
        if customer:
            return customer
    return ""


def _promotion_code_id(code: str) -> str:
    found = stripe.PromotionCode.list(
        code=code, active=True, limit=1, api_key=settings.STRIPE_SECRET_KEY
    )
    if not found.data:
        raise ValidationError(f"The coupon code {code!r} is not valid (or has expired).")
    return found.data[0].id


def checkout_session_create(
    *,
    price: Price,
    email: str,
    name: str,
    coupon: str = "",
    subscriber: Subscriber | None = None,
    site_url: str,
) -> str:
    """Open a Stripe Checkout page for one price; return its URL. A returning buyer pays as
    their Stripe customer (card and name prefilled); a new one as a new customer carrying
    the name and email from the order form. The price's slug travels in the metadata, so the
    webhook knows what was bought and can check the amount and currency."""
    key = settings.STRIPE_SECRET_KEY
    try:
        customer = (
            customer_of(subscriber)
            or stripe.Customer.create(email=email, name=name, api_key=key).id
        )
        metadata = {PRICE_METADATA_KEY: price.slug}
        params = {
            "mode": "subscription" if price.recurring else "payment",
            "line_items": [_line_item(price)],
            "customer": customer,
            "metadata": metadata,
            "client_reference_id": str(subscriber.pk) if subscriber else None,
            "success_url": site_url
            + reverse("commerce:thanks")
            + "?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": site_url + reverse("commerce:order_form", args=[price.slug]),
        }
        if price.recurring:
            params["subscription_data"] = {"metadata": metadata}
        else:
            params["payment_intent_data"] = {"metadata": metadata}
        if coupon:
            params["discounts"] = [{"promotion_code": _promotion_code_id(coupon)}]
        else:
            params["allow_promotion_codes"] = True
        session = stripe.checkout.Session.create(
            api_key=key, **{k: v for k, v in params.items() if v is not None}
        )
    except stripe.StripeError as exc:
        raise ValidationError(STRIPE_DOWN.format(exc.user_message or type(exc).__name__)) from exc
    return session.url


def billing_portal_url(*, subscriber: Subscriber, return_url: str) -> str:
    """Stripe's customer portal for this member (update card, cancel): its changes come back
    by the webhook like any other."""
    customer = customer_of(subscriber)
    if not customer:
        raise ValidationError("You have no payments through Stripe yet: nothing to manage.")
    try:
        session = stripe.billing_portal.Session.create(
            customer=customer, return_url=return_url, api_key=settings.STRIPE_SECRET_KEY
        )
    except stripe.StripeError as exc:
        raise ValidationError(STRIPE_DOWN.format(exc.user_message or type(exc).__name__)) from exc
    return session.url
