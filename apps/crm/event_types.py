"""The registry of event types.

crm registers the types it emits; higher apps register theirs in ``AppConfig.ready()`` (tags
adds ``tag_add``, members adds ``member_login_created``...). The automation engine's event
node and the admin's filters list what is registered here, so a new kind of event needs no
change below the app that emits it.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    key: str
    label: str


SUBSCRIBER_ACTIVATE = "subscriber_activate"
SUBSCRIBER_UNSUBSCRIBE = "subscriber_unsubscribe"
SUBSCRIBER_BOUNCE = "subscriber_bounce"
SUBSCRIBER_COMPLAIN = "subscriber_complain"
FIELD_VALUE_UPDATED = "field_value_updated"
FORM_SUBSCRIBE = "form_subscribe"
COURSE_SUBSCRIBE = "course_subscribe"
COURSE_COMPLETE = "course_complete"
COURSE_CANCEL = "course_cancel"
PURCHASE_CREATE = "purchase_create"
PRODUCT_PURCHASE = "product_purchase"
FIELD_CREATED = "field_created"
FIELD_DELETED = "field_deleted"
LINK_CLICK = "link_click"
EMAIL_DELIVERED = "email_delivered"
EMAIL_OPENED = "email_opened"

_REGISTRY: dict[str, EventType] = {}


def event_type_register(*, key: str, label: str) -> None:
    existing = _REGISTRY.get(key)
    if existing is not None and existing.label != label:
        raise ValueError(f"Event type {key!r} is already registered as {existing.label!r}.")
    _REGISTRY[key] = EventType(key=key, label=label)


def event_types_all() -> list[EventType]:
    return sorted(_REGISTRY.values(), key=lambda t: t.key)


def event_type_is_known(key: str) -> bool:
    return key in _REGISTRY


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
    (PURCHASE_CREATE, "Purchase recorded"),
    (PRODUCT_PURCHASE, "Purchased a product"),
    (FIELD_CREATED, "Custom field created"),
    (FIELD_DELETED, "Custom field deleted"),
    (LINK_CLICK, "Clicked a link in an email"),
    (EMAIL_DELIVERED, "Email delivered"),
    (EMAIL_OPENED, "Opened an email"),
):
    event_type_register(key=_key, label=_label)
