"""Kit's object shapes, shared by outbound hooks, webhook steps and the v3 API."""

from .models import Subscriber, SubscriberFieldValue


def _iso(dt) -> str | None:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


def subscriber_kit_payload(subscriber: Subscriber, fields: dict[str, str] | None = None) -> dict:
    """``{id, first_name, email_address, state, created_at, fields}`` as Kit sends it.

    Pass ``fields`` when the caller has them already (list endpoints load them in one query)."""
    if fields is None:
        fields = dict(
            SubscriberFieldValue.objects.filter(subscriber=subscriber).values_list(
                "field__key", "value"
            )
        )
    return {
        "id": subscriber.pk,
        "first_name": subscriber.first_name or None,
        "email_address": subscriber.email,
        "state": subscriber.state,
        "created_at": _iso(subscriber.created_at),
        "fields": fields,
    }
