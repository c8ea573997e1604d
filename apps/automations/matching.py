"""Does an event match an entry trigger or an event step? One rule for both.

A spec is an event type, optionally a tag (for tag events) and optional params. ``field_key``
and ``value`` match a custom field event's key and new value; any other param must equal the
payload key of the same name (``form_id``, ``product_id``...).
"""

from apps.crm.models import Event

_PARAM_TO_PAYLOAD = {"field_key": "key", "value": "new"}


def event_matches(*, event_type: str, tag_id: int | None, params: dict, event: Event) -> bool:
    if event.type != event_type:
        return False
    payload = event.payload or {}
    if tag_id is not None and payload.get("tag_id") != tag_id:
        return False
    for name, wanted in (params or {}).items():
        if wanted in (None, ""):
            continue
        if str(payload.get(_PARAM_TO_PAYLOAD.get(name, name), "")) != str(wanted):
            return False
    return True
