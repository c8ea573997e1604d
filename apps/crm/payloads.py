"""Kit's object shapes, shared by outbound hooks, webhook steps and the v3 API."""

from .models import Subscriber, SubscriberFieldValue
from .services import REDACTED


def _iso(dt) -> str | None:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


def subscriber_kit_payload(subscriber: Subscriber, fields: dict[str, str] | None = None) -> dict:
    """``{id, first_name, email_address, state, created_at, fields}`` as Kit sends it.

    Pass ``fields`` when the caller has them already (list endpoints load them in one query).
    Sensitive fields read "[redacted]": this shape leaves the site (hooks, webhook steps)."""
    if fields is None:
        fields = {
            key: REDACTED if sensitive else value
            for key, value, sensitive in SubscriberFieldValue.objects.filter(
                subscriber=subscriber
            ).values_list("field__key", "value", "field__sensitive")
        }
    return {
        "id": subscriber.pk,
        "first_name": subscriber.first_name or None,
        "email_address": subscriber.email,
        "state": subscriber.state,
        "created_at": _iso(subscriber.created_at),
        "fields": fields,
    }


def _money(value) -> float:
    return float(value)


def purchase_kit_payload(purchase) -> dict:
    """Kit's purchase object (GET /v3/purchases/{id}, and the purchase_create hook body)."""
    return {
        "id": purchase.pk,
        "transaction_id": purchase.transaction_id,
        "status": purchase.status,
        "email_address": purchase.email_address,
        "currency": purchase.currency,
        "transaction_time": _iso(purchase.transaction_time),
        "subtotal": _money(purchase.subtotal),
        "shipping": _money(purchase.shipping),
        "discount": _money(purchase.discount),
        "tax": _money(purchase.tax),
        "total": _money(purchase.total),
        "products": [
            {k: p.get(k) for k in ("unit_price", "quantity", "sku", "name", "pid", "lid")}
            for p in purchase.products
        ],
    }
