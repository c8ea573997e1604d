"""A broadcast written through Kit's APIs (v3 and v4 take the same attributes): every one is
optional, since Kit's drafts need none; ``send_at`` schedules it. Errors are
ValidationErrors, which each API answers in its own shape (422)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.dateparse import parse_datetime

from apps.api.v3.base import is_whole_number
from apps.crm.models import Broadcast, BroadcastStatus, EmailTemplate

BROADCAST_TEXT = {
    "subject": 255,
    "content": 1_000_000,
    "description": 10_000,
    "preview_text": 255,
    "thumbnail_alt": 255,
    "thumbnail_url": 2000,
    "email_address": 254,
}
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def _text(value, name: str, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValidationError(f"{name} must be text, got {type(value).__name__}.")
    if len(str(value)) > limit:
        raise ValidationError(f"{name} is longer than {limit} characters.")
    return str(value)


def _bool(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str | int) and str(value).strip().lower() in TRUE + FALSE:
        return str(value).strip().lower() in TRUE
    raise ValidationError(f"{name} must be true or false, got {value!r}.")


def _time(value, name: str):
    text = _text(value, name, 64)
    try:
        parsed = parse_datetime(text) if text else None
    except ValueError:
        parsed = None
    if text and parsed is None:
        raise ValidationError(f"{name} must be a date and time (ISO 8601), got {text!r}.")
    return parsed


def _template(value, name: str) -> EmailTemplate | None:
    """By id (v4's email_template_id) or by name (v3's email_layout_template)."""
    if value in (None, ""):
        return None
    if is_whole_number(value):
        found = EmailTemplate.objects.filter(pk=int(value)).first()
    elif isinstance(value, str):
        found = EmailTemplate.objects.filter(name__iexact=value.strip()).first()
    else:
        found = None
    if found is None:
        raise ValidationError(f"{name} {value!r} is not an email template (see email templates).")
    return found


@transaction.atomic
def broadcast_write(*, broadcast: Broadcast, values: dict) -> Broadcast:
    """Set the attributes present in ``values`` and save; a sent broadcast is read-only."""
    sent = broadcast.status not in (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)
    if sent and set(values) & {*BROADCAST_TEXT, "send_at", "public", "published_at"}:
        raise ValidationError("A broadcast that has been sent can no longer be changed.")
    for name, limit in BROADCAST_TEXT.items():
        if name in values:
            setattr(broadcast, name, _text(values[name], name, limit))
    if values.get("public") is not None:
        broadcast.public = _bool(values["public"], "public")
    for name in ("published_at", "send_at"):
        if name in values:
            setattr(broadcast, name, _time(values[name], name))
    for name in ("email_template_id", "email_layout_template"):
        if name in values:
            broadcast.email_template = _template(values[name], name)
    if broadcast.email_address:
        from django.core.validators import validate_email

        try:
            validate_email(broadcast.email_address)
        except ValidationError:
            raise ValidationError(
                f"email_address {broadcast.email_address!r} is not an email address."
            ) from None
        from apps.crm.email_html import sender_check

        problem = sender_check(broadcast.email_address)
        if problem:
            raise ValidationError(f"email_address: {problem}")
    if broadcast.thumbnail_url and not broadcast.thumbnail_url.startswith(("http://", "https://")):
        raise ValidationError("thumbnail_url must be an http(s) URL.")
    if broadcast.status in (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED):
        broadcast.status = BroadcastStatus.SCHEDULED if broadcast.send_at else BroadcastStatus.DRAFT
    broadcast.save()
    return broadcast


@transaction.atomic
def broadcast_delete(*, broadcast: Broadcast) -> None:
    """Delete a broadcast (v4 refuses one being sent before it calls this; v3 does not)."""
    broadcast.delete()
