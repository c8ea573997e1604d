"""The verbs that change subscribers and custom fields. Each is one transaction and writes
its events in it."""

from dataclasses import dataclass
from dataclasses import field as dc_field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from . import event_types
from .addresses import email_normalize
from .events import event_record, events_record_bulk
from .models import CustomField, Subscriber, SubscriberFieldValue, SubscriberState

CUSTOM_FIELD_LABEL_MAX = 255
REDACTED = "[redacted]"
CUSTOM_FIELD_VALUE_MAX_CHARS = 10_000


@transaction.atomic
def subscriber_get_or_create(
    *, email: str, first_name: str = "", state: str = SubscriberState.ACTIVE
) -> tuple[Subscriber, bool]:
    """Find the subscriber with this address (any case) or create one; safe under races."""
    normalized = email_normalize(email)
    subscriber, created = Subscriber.objects.get_or_create(
        email=normalized, defaults={"first_name": (first_name or "").strip(), "state": state}
    )
    if created:
        events_record_bulk(events=_activation_events([subscriber]))
    return subscriber, created


@transaction.atomic
def subscribers_create_bulk(*, people: list[tuple[str, str]]) -> list[Subscriber]:
    """Create active subscribers from (normalized email, first name) pairs known to be new,
    with the events ``subscriber_get_or_create`` writes, in a fixed number of queries.

    An address someone else inserted meanwhile raises IntegrityError and nothing is written:
    the caller retries with that address now existing.
    """
    created = Subscriber.objects.bulk_create(
        [Subscriber(email=email, first_name=name.strip()) for email, name in people]
    )
    events_record_bulk(events=_activation_events(created))
    return created


def _activation_events(subscribers: list[Subscriber]) -> list[tuple[int, str, dict]]:
    return [
        (s.pk, event_types.SUBSCRIBER_ACTIVATE, {})
        for s in subscribers
        if s.state == SubscriberState.ACTIVE
    ]


@transaction.atomic
def subscriber_update(
    *, subscriber: Subscriber, first_name: str | None = None, email: str | None = None
) -> Subscriber:
    changed = []
    if first_name is not None and first_name.strip() != subscriber.first_name:
        subscriber.first_name = first_name.strip()
        changed.append("first_name")
    if email is not None:
        normalized = email_normalize(email)
        if normalized != subscriber.email:
            if Subscriber.objects.filter(email=normalized).exclude(pk=subscriber.pk).exists():
                raise ValidationError(
                    f"Another subscriber already uses {normalized}.", code="email_taken"
                )
            subscriber.email = normalized
            changed.append("email")
    if changed:
        try:
            with transaction.atomic():
                subscriber.save(update_fields=[*changed, "updated_at"])
        except IntegrityError:
            raise ValidationError(
                f"Another subscriber already uses {subscriber.email}.", code="email_taken"
            ) from None
    return subscriber


@transaction.atomic
def subscriber_save(
    *, subscriber_id: int | None, email: str, first_name: str, is_test: bool
) -> Subscriber:
    """The subscriber page's save, in one transaction: an existing subscriber is changed
    through ``subscriber_update``, a new address through ``subscriber_get_or_create`` (both
    write their events). Marking a test address is a flag the creator sets, not a change
    anything listens to: no event."""
    if subscriber_id is not None:
        subscriber = subscriber_update(
            subscriber=Subscriber.objects.get(pk=subscriber_id), first_name=first_name, email=email
        )
    else:
        subscriber, _ = subscriber_get_or_create(email=email, first_name=first_name)
    Subscriber.objects.filter(pk=subscriber.pk).update(is_test=is_test)
    subscriber.is_test = is_test
    return subscriber


@transaction.atomic
def subscriber_unsubscribe(*, subscriber: Subscriber) -> Subscriber:
    """Kit's unsubscribe: state cancelled, history kept. Other apps react to the event
    (runs exit, sequences stop)."""
    if subscriber.state == SubscriberState.CANCELLED:
        return subscriber
    subscriber.state = SubscriberState.CANCELLED
    subscriber.cancelled_at = timezone.now()
    subscriber.save(update_fields=["state", "cancelled_at", "updated_at"])
    event_record(subscriber_id=subscriber.pk, type=event_types.SUBSCRIBER_UNSUBSCRIBE)
    return subscriber


# A state set by hand and the event it writes (hooks and automations see it as any other).
_STATE_EVENTS = {
    SubscriberState.ACTIVE: event_types.SUBSCRIBER_ACTIVATE,
    SubscriberState.BOUNCED: event_types.SUBSCRIBER_BOUNCE,
    SubscriberState.COMPLAINED: event_types.SUBSCRIBER_COMPLAIN,
}


@transaction.atomic
def subscriber_state_set(
    *, subscriber: Subscriber, state: str, source: str = "admin"
) -> Subscriber:
    """Set Kit's state by hand (the admin): cancelled is an unsubscribe (runs exit, sequences
    stop), active re-subscribes, bounced and complained stop every email. Each change is an
    event; setting the state a subscriber has changes nothing."""
    if state == subscriber.state:
        return subscriber
    if state == SubscriberState.CANCELLED:
        return subscriber_unsubscribe(subscriber=subscriber)
    if state not in _STATE_EVENTS:
        raise ValidationError(
            f"{state!r} cannot be set by hand: choose active, cancelled, bounced or complained "
            "(inactive means a double opt-in not yet confirmed).",
            code="state_invalid",
        )
    subscriber.state = state
    subscriber.cancelled_at = None if state == SubscriberState.ACTIVE else subscriber.cancelled_at
    subscriber.save(update_fields=["state", "cancelled_at", "updated_at"])
    event_record(subscriber_id=subscriber.pk, type=_STATE_EVENTS[state], payload={"source": source})
    return subscriber


def custom_field_key_for(label: str) -> str:
    """Kit's key: ASCII, lower case, words joined by underscores."""
    return slugify(label).replace("-", "_") or "field"


def _clean_label(label: str) -> str:
    cleaned = " ".join(label.split()) if isinstance(label, str) else ""
    if not cleaned:
        raise ValidationError("A custom field needs a label.", code="label_blank")
    if len(cleaned) > CUSTOM_FIELD_LABEL_MAX:
        raise ValidationError(
            f"A custom field label can be at most {CUSTOM_FIELD_LABEL_MAX} characters.",
            code="label_too_long",
        )
    return cleaned


def _label_taken(label: str, *, exclude_pk: int | None = None) -> bool:
    return CustomField.objects.filter(label__iexact=label).exclude(pk=exclude_pk).exists()


@transaction.atomic
def custom_field_create(*, label: str) -> CustomField:
    cleaned = _clean_label(label)
    if _label_taken(cleaned):
        raise ValidationError(
            f"A custom field labelled {cleaned!r} already exists.", code="label_taken"
        )
    base = custom_field_key_for(cleaned)
    taken = set(CustomField.objects.filter(key__startswith=base).values_list("key", flat=True))
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    field = CustomField.objects.create(label=cleaned, key=key)
    event_record(
        subscriber_id=None,
        type=event_types.FIELD_CREATED,
        payload={"custom_field_id": field.pk, "key": key, "label": cleaned},
    )
    return field


@transaction.atomic
def custom_field_relabel(*, field: CustomField, label: str) -> CustomField:
    """Change the label only; the key (used in templates) never changes, as in Kit."""
    cleaned = _clean_label(label)
    if _label_taken(cleaned, exclude_pk=field.pk):
        raise ValidationError(
            f"A custom field labelled {cleaned!r} already exists.", code="label_taken"
        )
    field.label = cleaned
    field.save(update_fields=["label"])
    return field


@transaction.atomic
def custom_field_mark_sensitive(*, field: CustomField) -> CustomField:
    """From now on the field's values are kept out of events, logs and the admin."""
    if not field.sensitive:
        field.sensitive = True
        field.save(update_fields=["sensitive"])
    return field


@transaction.atomic
def custom_field_delete(*, field: CustomField) -> None:
    """Delete the field and every subscriber's value for it, as Kit does."""
    event_record(
        subscriber_id=None,
        type=event_types.FIELD_DELETED,
        payload={"custom_field_id": field.pk, "key": field.key, "label": field.label},
    )
    field.delete()


@transaction.atomic
def subscriber_fields_set(*, subscriber: Subscriber, values: dict[str, object]) -> list[str]:
    """Set custom field values by key (``None`` or ``""`` clears one).

    Every key must name an existing field; nothing is written if one does not. Returns the
    keys whose value changed, each with a ``field_value_updated`` event.
    """
    return subscribers_fields_set(values={subscriber.pk: values}).get(subscriber.pk, [])


def _fields_by_key(keys: set[str]) -> dict[str, CustomField]:
    """The custom fields named by ``keys``; refused whole when one does not exist."""
    fields = {f.key: f for f in CustomField.objects.filter(key__in=keys)}
    unknown = sorted(keys - set(fields))
    if unknown:
        raise ValidationError(
            "Unknown custom field(s): "
            + ", ".join(unknown)
            + ". Create them first (custom fields are matched by key).",
            code="field_unknown",
        )
    return fields


def _field_value_text(key: str, raw: object) -> str:
    new = "" if raw is None else str(raw)
    if len(new) > CUSTOM_FIELD_VALUE_MAX_CHARS:
        raise ValidationError(
            f"The value for {key!r} is longer than {CUSTOM_FIELD_VALUE_MAX_CHARS} characters.",
            code="value_too_long",
        )
    return new


@dataclass
class _FieldWrites:
    """What setting field values writes: rows to create, update and delete, and the events."""

    create: list[SubscriberFieldValue] = dc_field(default_factory=list)
    update: list[SubscriberFieldValue] = dc_field(default_factory=list)
    delete: list[int] = dc_field(default_factory=list)
    events: list[tuple] = dc_field(default_factory=list)

    def add(self, *, subscriber_id: int, field: CustomField, current, new: str, now) -> None:
        old = current.value if current else ""
        if not new:
            self.delete.append(current.pk)
        elif current is None:
            self.create.append(
                SubscriberFieldValue(subscriber_id=subscriber_id, field=field, value=new)
            )
        else:
            current.value, current.updated_at = new, now
            self.update.append(current)
        shown_old, shown_new = (REDACTED, REDACTED) if field.sensitive else (old, new)
        self.events.append(
            (
                subscriber_id,
                event_types.FIELD_VALUE_UPDATED,
                {"custom_field_id": field.pk, "key": field.key, "old": shown_old, "new": shown_new},
            )
        )

    def write(self) -> None:
        if self.create:
            SubscriberFieldValue.objects.bulk_create(self.create)
        if self.update:
            SubscriberFieldValue.objects.bulk_update(self.update, ["value", "updated_at"])
        if self.delete:
            SubscriberFieldValue.objects.filter(pk__in=self.delete).delete()
        events_record_bulk(events=self.events)


@transaction.atomic
def subscribers_fields_set(*, values: dict[int, dict[str, object]]) -> dict[int, list[str]]:
    """Set many subscribers' custom field values at once: ``{subscriber_id: {key: value}}``.

    The same rules and events as ``subscriber_fields_set`` in a fixed number of queries,
    whatever the number of subscribers. Returns the changed keys per subscriber id.
    """
    values = {sid: v for sid, v in values.items() if v}
    if not values:
        return {}
    fields = _fields_by_key({key for by_key in values.values() for key in by_key})
    existing = {
        (v.subscriber_id, v.field_id): v
        for v in SubscriberFieldValue.objects.filter(
            subscriber_id__in=list(values), field__in=list(fields.values())
        )
    }
    writes = _FieldWrites()
    changed: dict[int, list[str]] = {}
    now = timezone.now()
    for subscriber_id, by_key in values.items():
        for key, raw in by_key.items():
            field, new = fields[key], _field_value_text(key, raw)
            current = existing.get((subscriber_id, field.pk))
            if new == (current.value if current else ""):
                continue
            writes.add(subscriber_id=subscriber_id, field=field, current=current, new=new, now=now)
            changed.setdefault(subscriber_id, []).append(key)
    writes.write()
    return changed
