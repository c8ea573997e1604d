"""Stripe's events as its API reference documents them (event object, Checkout Session,
Invoice, Charge, Subscription), trimmed to the fields a webhook handler reads plus the ones
around them, and signed as Stripe signs them (``Stripe-Signature: t=...,v1=HMAC-SHA256``)."""

import itertools
import json
import time

import stripe

WEBHOOK_SECRET = "whsec_test_5d8a3b9f0c7e4f2a9b1c6d3e8f0a7b2c"
_ids = itertools.count(1000)


def _id(prefix: str) -> str:
    return f"{prefix}_test_{next(_ids):06d}"


def event(type_: str, obj: dict, *, event_id: str | None = None, created: int | None = None):
    return {
        "id": event_id or _id("evt"),
        "object": "event",
        "api_version": "2024-06-20",
        "created": created or int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
    }


def checkout_session(
    *,
    email: str,
    price_slug: str | None,
    amount: int,
    currency: str = "usd",
    mode: str = "payment",
    name: str = "Ada Lovelace",
    discount: int = 0,
    session_id: str | None = None,
    payment_link: str | None = None,
) -> dict:
    """A completed ``checkout.session`` (amounts in cents, as Stripe sends them)."""
    subscription = _id("sub") if mode == "subscription" else None
    return {
        "id": session_id or _id("cs"),
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount - discount,
        "created": int(time.time()),
        "currency": currency,
        "customer": _id("cus"),
        "customer_creation": "always",
        "customer_details": {"email": email, "name": name, "phone": None, "tax_exempt": "none"},
        "customer_email": None,
        "invoice": _id("in") if mode == "subscription" else None,
        "livemode": False,
        "metadata": {"tessera_price": price_slug} if price_slug else {},
        "mode": mode,
        "payment_intent": _id("pi") if mode == "payment" else None,
        "payment_link": payment_link,
        "payment_status": "paid",
        "status": "complete",
        "subscription": subscription,
        "success_url": "https://example.com/buy/thanks/?session_id={CHECKOUT_SESSION_ID}",
        "total_details": {"amount_discount": discount, "amount_shipping": 0, "amount_tax": 0},
        "url": None,
    }


def charge(*, payment_intent: str, amount: int, refunded: int = 0, currency: str = "usd"):
    return {
        "id": _id("ch"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": refunded,
        "captured": True,
        "currency": currency,
        "customer": _id("cus"),
        "invoice": None,
        "paid": True,
        "payment_intent": payment_intent,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{payment_intent}",
        "refunded": refunded >= amount,
        "status": "succeeded",
    }


def invoice(
    *,
    invoice_id: str,
    subscription: str,
    email: str,
    amount: int,
    period_end: int,
    price_slug: str,
    currency: str = "usd",
    billing_reason: str = "subscription_cycle",
    paid: bool = True,
    next_payment_attempt: int | None = None,
) -> dict:
    return {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": amount if paid else 0,
        "amount_remaining": 0 if paid else amount,
        "attempt_count": 1,
        "billing_reason": billing_reason,
        "created": int(time.time()),
        "currency": currency,
        "customer": _id("cus"),
        "customer_email": email,
        "customer_name": "Ada Lovelace",
        "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_test/{invoice_id}",
        "invoice_pdf": f"https://pay.stripe.com/invoice/acct_test/{invoice_id}/pdf",
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": _id("il"),
                    "object": "line_item",
                    "amount": amount,
                    "currency": currency,
                    "period": {"start": period_end - 30 * 86400, "end": period_end},
                }
            ],
            "has_more": False,
        },
        "next_payment_attempt": next_payment_attempt,
        "paid": paid,
        "status": "paid" if paid else "open",
        "status_transitions": {"paid_at": int(time.time()) if paid else None},
        "subscription": subscription,
        "subscription_details": {"metadata": {"tessera_price": price_slug}},
        "subtotal": amount,
        "tax": None,
        "total": amount,
    }


def subscription(*, subscription_id: str, status: str = "canceled", period_end: int) -> dict:
    return {
        "id": subscription_id,
        "object": "subscription",
        "cancel_at_period_end": False,
        "canceled_at": int(time.time()) if status == "canceled" else None,
        "current_period_end": period_end,
        "current_period_start": period_end - 30 * 86400,
        "customer": _id("cus"),
        "ended_at": int(time.time()) if status == "canceled" else None,
        "status": status,
    }


def signed(payload: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    """The body and the ``Stripe-Signature`` header Stripe would send."""
    body = json.dumps(payload)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    return body, header


def post_event(client, payload: dict, **sign):
    body, header = signed(payload, **sign)
    return client.post(
        "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
