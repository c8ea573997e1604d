"""Kit's v3 object shapes (reference/kit.md section 1.3), built in bulk for list pages."""

from collections import defaultdict

from apps.crm.models import CustomField, SubscriberFieldValue
from apps.crm.payloads import _iso, subscriber_kit_payload


def fields_of(subscriber_ids) -> dict[int, dict]:
    """Every listed subscriber's fields in one query (sensitive ones redacted)."""
    fields: dict[int, dict] = defaultdict(dict)
    for sid, key, value, sensitive in SubscriberFieldValue.objects.filter(
        subscriber_id__in=list(subscriber_ids)
    ).values_list("subscriber_id", "field__key", "value", "field__sensitive"):
        fields[sid][key] = "[redacted]" if sensitive else value
    return fields


def subscribers(rows) -> list[dict]:
    fields = fields_of(s.pk for s in rows)
    return [subscriber_kit_payload(s, fields=fields[s.pk]) for s in rows]


def tag(tag_obj) -> dict:
    return {"id": tag_obj.pk, "name": tag_obj.name, "created_at": _iso(tag_obj.created_at)}


def tag_created(tag_obj) -> dict:
    return {
        "account_id": 1,
        "created_at": _iso(tag_obj.created_at),
        "deleted_at": None,
        "id": tag_obj.pk,
        "name": tag_obj.name,
        "state": "available",
        "updated_at": _iso(tag_obj.created_at),
    }


def custom_field(field: CustomField) -> dict:
    return {"id": field.pk, "name": field.name, "key": field.key, "label": field.label}


def subscription(
    *,
    pk: int,
    state: str,
    created_at,
    subscribable_id: int,
    kind: str,
    subscriber: dict,
    source=None,
    referrer=None,
) -> dict:
    return {
        "id": pk,
        "state": state,
        "created_at": _iso(created_at),
        "source": source,
        "referrer": referrer or None,
        "subscribable_id": subscribable_id,
        "subscribable_type": kind,
        "subscriber": subscriber,
    }
