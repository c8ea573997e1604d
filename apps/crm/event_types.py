"""The registry of event types.

crm registers the types it emits; higher apps register theirs in ``AppConfig.ready()`` (tags
adds ``tag_add``, members adds ``member_login_created``...). The automation engine's event
node and the admin's filters list what is registered here, so a new kind of event needs no
change below the app that emits it.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    """``filters``: payload keys an entry trigger or event step may narrow this event by
    (``offering_id``: "access granted to *this* offering")."""

    key: str
    label: str
    filters: tuple[str, ...] = ()


SUBSCRIBER_ACTIVATE = "subscriber_activate"
SUBSCRIBER_UNSUBSCRIBE = "subscriber_unsubscribe"
SUBSCRIBER_BOUNCE = "subscriber_bounce"
SUBSCRIBER_COMPLAIN = "subscriber_complain"
FIELD_VALUE_UPDATED = "field_value_updated"
FORM_SUBSCRIBE = "form_subscribe"
COURSE_SUBSCRIBE = "course_subscribe"
COURSE_COMPLETE = "course_complete"
COURSE_CANCEL = "course_cancel"
COURSE_HOLD = "course_hold"
PURCHASE_CREATE = "purchase_create"
PRODUCT_PURCHASE = "product_purchase"
FIELD_CREATED = "field_created"
FIELD_DELETED = "field_deleted"
LINK_CLICK = "link_click"
EMAIL_DELIVERED = "email_delivered"
EMAIL_OPENED = "email_opened"

_REGISTRY: dict[str, EventType] = {}


def event_type_register(*, key: str, label: str, filters: tuple[str, ...] = ()) -> None:
    existing = _REGISTRY.get(key)
    if existing is not None and existing.label != label:
        raise ValueError(f"Event type {key!r} is already registered as {existing.label!r}.")
    _REGISTRY[key] = EventType(key=key, label=label, filters=tuple(filters))


def event_type_get(key: str) -> EventType | None:
    return _REGISTRY.get(key)


def event_types_all() -> list[EventType]:
    return sorted(_REGISTRY.values(), key=lambda t: t.key)


def event_type_is_known(key: str) -> bool:
    return key in _REGISTRY


_FILTERS = {
    FORM_SUBSCRIBE: ("form_id",),
    COURSE_SUBSCRIBE: ("sequence_id",),
    COURSE_COMPLETE: ("sequence_id",),
    COURSE_CANCEL: ("sequence_id",),
    COURSE_HOLD: ("sequence_id",),
    PRODUCT_PURCHASE: ("product_id",),
}

for _key, _label in (
    (SUBSCRIBER_ACTIVATE, "Subscriber activated"),
    (SUBSCRIBER_UNSUBSCRIBE, "Subscriber unsubscribed"),
    (SUBSCRIBER_BOUNCE, "Subscriber bounced"),
    (SUBSCRIBER_COMPLAIN, "Subscriber complained"),
    (FIELD_VALUE_UPDATED, "Custom field set"),
    (FORM_SUBSCRIBE, "Subscribed to a form"),
    (COURSE_SUBSCRIBE, "Added to a sequence"),
    (COURSE_COMPLETE, "Completed a sequence"),
    (COURSE_CANCEL, "Left a sequence"),
    (COURSE_HOLD, "Reached the end of a Hold sequence (on hold for new emails)"),
    (PURCHASE_CREATE, "Purchase recorded"),
    (PRODUCT_PURCHASE, "Purchased a product"),
    (FIELD_CREATED, "Custom field created"),
    (FIELD_DELETED, "Custom field deleted"),
    (LINK_CLICK, "Clicked a link in an email"),
    (EMAIL_DELIVERED, "Email delivered"),
    (EMAIL_OPENED, "Opened an email"),
):
    event_type_register(key=_key, label=_label, filters=_FILTERS.get(_key, ()))
