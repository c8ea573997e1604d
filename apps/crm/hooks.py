"""Kit's outbound hooks (``automations/hooks``), delivered from the event log.

An event that matches an active hook owes its target one POST of Kit's payload
(``{"subscriber": {...}}``, or the bare purchase for purchase_create), recorded as a delivery
keyed by hook and event. Each attempt is signed with the hook's secret as Standard Webhooks
does (``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">``): a compatible superset of Kit, whose legacy hooks are unsigned.
"""

import base64
import hashlib
import hmac
import json
import secrets
from collections import defaultdict
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction

from . import event_types
from .delivery import webhook_deliveries_enqueue
from .models import Hook, Purchase, SubscriberFieldValue
from .payloads import purchase_kit_payload, subscriber_kit_payload

# Kit's event names (without the "subscriber." prefix, as Kit stores them) and the filter each
# needs, by the internal event type that fires it.
HOOK_EVENTS = {
    "subscriber_activate": (event_types.SUBSCRIBER_ACTIVATE, None),
    "subscriber_unsubscribe": (event_types.SUBSCRIBER_UNSUBSCRIBE, None),
    "subscriber_bounce": (event_types.SUBSCRIBER_BOUNCE, None),
    "subscriber_complain": (event_types.SUBSCRIBER_COMPLAIN, None),
    "form_subscribe": (event_types.FORM_SUBSCRIBE, "form_id"),
    "course_subscribe": (event_types.COURSE_SUBSCRIBE, "sequence_id"),
    "course_complete": (event_types.COURSE_COMPLETE, "sequence_id"),
    "product_purchase": (event_types.PRODUCT_PURCHASE, "product_id"),
    "tag_add": ("tag_add", "tag_id"),
    "tag_remove": ("tag_remove", "tag_id"),
    "purchase_create": (event_types.PURCHASE_CREATE, None),
    "field_created": (event_types.FIELD_CREATED, None),
    "field_deleted": (event_types.FIELD_DELETED, None),
    "field_value_updated": (event_types.FIELD_VALUE_UPDATED, "custom_field_id"),
    # Fired by a click through a tracked link (ours or the provider's), filtered by the URL.
    "link_click": (event_types.LINK_CLICK, "initiator_value"),
}
_FIELD_EVENTS = ("field_created", "field_deleted")
_BY_TYPE = defaultdict(list)
for _name, (_type, _filter) in HOOK_EVENTS.items():
    _BY_TYPE[_type].append(_name)


def hook_secret_new() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@transaction.atomic
def hook_create(*, event_name: str, target_url: str, filter_value=None) -> Hook:
    """Register a hook; ``event_name`` as Kit spells it, with or without "subscriber."."""
    name = event_name.split(".", 1)[-1] if event_name else ""
    if name not in HOOK_EVENTS:
        raise ValidationError(
            f"Unknown event {event_name!r}; use one of {', '.join(sorted(HOOK_EVENTS))}."
        )
    field = HOOK_EVENTS[name][1]
    if field and filter_value in (None, ""):
        raise ValidationError(f"The {name} event needs {field}.")
    # Only the URL's form is checked here: the address is resolved and checked at each
    # delivery (a name that does not resolve yet, or a LAN n8n allowed by
    # OUTBOUND_ALLOW_PRIVATE, is the deployment's business, and DNS answers change).
    parts = urlsplit(target_url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"target_url is not an http(s) URL: {target_url!r}.")
    hook = Hook(event_name=name, target_url=target_url, secret=hook_secret_new())
    if field:
        setattr(hook, field, filter_value)
    hook.save()
    return hook


@transaction.atomic
def hook_delete(*, hook: Hook) -> None:
    hook.delete()


def _matches(hook: Hook, event) -> bool:
    field = HOOK_EVENTS[hook.event_name][1]
    if field is None:
        return True
    return str(event.payload.get(field, "")) == str(getattr(hook, field))


def _hook_pairs(events) -> list[tuple[Hook, object]]:
    """Every (active hook, event) that should be delivered, with one query."""
    names = {n for e in events for n in _BY_TYPE.get(e.type, [])}
    if not names:
        return []
    hooks = list(Hook.objects.filter(active=True, event_name__in=names))
    return [
        (h, e)
        for e in events
        for h in hooks
        if h.event_name in _BY_TYPE.get(e.type, []) and _matches(h, e)
    ]


def _hook_fields(pairs) -> dict[int, dict]:
    """The custom fields of the pairs' subscribers, by subscriber id, sensitive ones hidden."""
    fields: dict[int, dict] = defaultdict(dict)
    for sid, key, value, sensitive in SubscriberFieldValue.objects.filter(
        subscriber_id__in={e.subscriber_id for _, e in pairs if e.subscriber_id}
    ).values_list("subscriber_id", "field__key", "value", "field__sensitive"):
        fields[sid][key] = "[redacted]" if sensitive else value
    return fields


def _hook_purchases(pairs) -> dict[int, Purchase]:
    ids = {e.payload.get("purchase_id") for h, e in pairs if h.event_name == "purchase_create"}
    return {p.pk: p for p in Purchase.objects.filter(pk__in=ids)}


def _field_body(event) -> dict:
    p = event.payload
    return {
        "custom_field": {
            "id": p["custom_field_id"],
            "key": p["key"],
            "label": p["label"],
            "name": f"ck_field_{p['custom_field_id']}_{p['key']}",
        }
    }


def _hook_body(hook: Hook, event, *, fields: dict, purchases: dict) -> dict | None:
    """What Kit sends for this hook and event; None when there is nothing to send."""
    if hook.event_name in _FIELD_EVENTS:
        return _field_body(event)
    if hook.event_name == "purchase_create":
        purchase = purchases.get(event.payload.get("purchase_id"))
        return None if purchase is None else purchase_kit_payload(purchase)
    if event.subscriber is None:
        return None
    return {
        "subscriber": subscriber_kit_payload(event.subscriber, fields=fields[event.subscriber_id])
    }


def hooks_on_events(events) -> None:
    """Consumer: queue a delivery per matching (hook, event)."""
    pairs = _hook_pairs(events)
    if not pairs:
        return
    fields, purchases = _hook_fields(pairs), _hook_purchases(pairs)
    rows = []
    for hook, event in pairs:
        body = _hook_body(hook, event, fields=fields, purchases=purchases)
        if body is None:
            continue
        rows.append(
            {
                "key": f"hook:{hook.pk}:event:{event.pk}",
                "url": hook.target_url,
                "body": json.dumps(body),
                "hook": hook,
            }
        )
    webhook_deliveries_enqueue(rows=rows)


def standard_webhooks_headers(*, secret: str, message_id: str, timestamp: int, body: str) -> dict:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.{body}".encode()
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{signature}",
    }
