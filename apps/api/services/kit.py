"""The Kit APIs' (v3 and v4) writes to subscribers, tags, custom fields and sequences:
each is one transaction over the CRM's and the tags' services, so a handler calls one verb.
Inputs arrive checked (the handlers answer bad input in their API's own shape). Where one
service of another app does the whole write (``form_subscribe``, ``sequence_subscribe``,
``hook_create``...), the handler calls it directly: it owns its transaction."""

from django.db import transaction

from apps.crm.events import events_buffered
from apps.crm.messaging.sequences import sequence_subscribe
from apps.crm.models import CustomField, Sequence, Subscriber
from apps.crm.services import (
    custom_field_create,
    subscriber_fields_set,
    subscriber_get_or_create,
    subscriber_update,
)
from apps.tags.models import Tag
from apps.tags.services import tag_create, taggings_add

SOURCE = "api"


@transaction.atomic
def kit_tags_create(*, names: list) -> list[Tag]:
    """v3's tag create: one or many, all or none."""
    return [tag_create(name=name) for name in names]


@transaction.atomic
def kit_custom_fields_create(*, labels: list[str]) -> list[CustomField]:
    """v3's custom field create: one or many, all or none."""
    return [custom_field_create(label=label) for label in labels]


def _contact_add(*, email: str, first_name: str, fields: dict, tag_ids: list[int]) -> Subscriber:
    """The subscriber (created if new) with these fields and extra tags."""
    subscriber, _ = subscriber_get_or_create(email=email, first_name=first_name)
    if fields:
        subscriber_fields_set(subscriber=subscriber, values=fields)
    taggings_add(pairs=[(subscriber.pk, t) for t in tag_ids], source=SOURCE)
    return subscriber


def kit_tag_subscribe(
    *, tag: Tag, email: str, first_name: str, fields: dict, tag_ids: list[int]
) -> Subscriber:
    """v3's tag subscribe: the contact, then the tag. The checkout's call at a launch: its
    events (activation, tag) go in one insert."""
    with transaction.atomic(), events_buffered():
        subscriber = _contact_add(
            email=email, first_name=first_name, fields=fields, tag_ids=tag_ids
        )
        taggings_add(pairs=[(subscriber.pk, tag.pk)], source=SOURCE)
    return subscriber


def kit_tag_add(*, tag: Tag, subscriber: Subscriber) -> bool:
    """v4's tag of an existing subscriber; True when newly tagged."""
    with transaction.atomic(), events_buffered():
        return bool(taggings_add(pairs=[(subscriber.pk, tag.pk)], source=SOURCE))


@transaction.atomic
def kit_sequence_subscribe(
    *, sequence: Sequence, email: str, first_name: str, fields: dict, tag_ids: list[int]
) -> Subscriber:
    """v3's sequence (course) subscribe: the contact, then the sequence."""
    subscriber = _contact_add(email=email, first_name=first_name, fields=fields, tag_ids=tag_ids)
    sequence_subscribe(subscriber=subscriber, sequence=sequence, source=SOURCE)
    return subscriber


@transaction.atomic
def kit_subscriber_update(
    *, subscriber: Subscriber, first_name: str | None, email: str | None, fields: dict
) -> Subscriber:
    """v3's and v4's subscriber update: name and address (None: unchanged), then fields."""
    subscriber_update(subscriber=subscriber, first_name=first_name, email=email)
    subscriber_fields_set(subscriber=subscriber, values=fields)
    return subscriber


@transaction.atomic
def kit_subscriber_upsert(
    *, email: str, first_name: str, state: str, fields: dict
) -> tuple[Subscriber, bool]:
    """v4's create-or-update by address: a found subscriber gets the first name (when one is
    given) and the fields; (subscriber, created)."""
    subscriber, created = subscriber_get_or_create(email=email, first_name=first_name, state=state)
    if not created and first_name:
        subscriber_update(subscriber=subscriber, first_name=first_name)
    subscriber_fields_set(subscriber=subscriber, values=fields)
    return subscriber, created
