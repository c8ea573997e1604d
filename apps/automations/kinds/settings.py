"""What several kinds check their settings with, and read their forms with."""

from django.core.exceptions import ValidationError

from apps.crm.models import CustomField
from apps.tags.models import Tag
from apps.tags.services import tag_get_or_create

from .base import SettingsError, StepContext


def int_setting(settings: dict, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    value = settings.get(name)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(name, f"expected a whole number, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f" and at most {maximum}" if maximum is not None else ""
        raise SettingsError(name, f"must be at least {minimum}{bound}")
    return value


def tag_setting(settings: dict, name: str = "tag_id") -> int:
    tag_id = int_setting(settings, name)
    if not Tag.objects.filter(pk=tag_id).exists():
        raise SettingsError(name, f"no tag has id {tag_id}")
    return tag_id


def field_key_setting(settings: dict, name: str) -> str:
    key = settings.get(name)
    if not isinstance(key, str) or not key.strip():
        raise SettingsError(name, "expected a custom field key")
    if not CustomField.objects.filter(key=key.strip()).exists():
        raise SettingsError(name, f"no custom field has the key {key.strip()!r}")
    return key.strip()


def automation_setting(settings: dict, name: str = "automation_id") -> int:
    from ..models import Automation

    automation_id = int_setting(settings, name)
    if not Automation.objects.filter(pk=automation_id).exists():
        raise SettingsError(name, f"no automation has id {automation_id}")
    return automation_id


def unknown_check(settings: dict, allowed: set[str]) -> None:
    extra = sorted(set(settings) - allowed)
    if extra:
        raise SettingsError(extra[0], f"unknown setting; expected {', '.join(sorted(allowed))}")


def step_source(ctx: StepContext) -> str:
    return f"automation:{ctx.automation.pk}"


def tag_id_from(name: str, label: str) -> int:
    """A form's tag box: the tag by name, created if new (inside the caller's service)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError(f"{label}: type a tag name (a new name creates the tag).")
    return tag_get_or_create(name=name)[0].pk
