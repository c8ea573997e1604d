"""Offerings, their modules and lessons: making and changing them."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from apps.crm.models import CustomField
from apps.crm.services import custom_field_create, custom_field_mark_sensitive
from apps.tags.models import Tag
from apps.tags.services import tag_get_or_create

from ..content import lesson_html_clean
from ..lessons import lesson_save
from ..lock_objects import (
    grants_active_for_update,
)
from ..models import (
    Lesson,
    Module,
    Offering,
    ReleaseRule,
)
from .drip import grants_release_due

TAG_SEPARATOR = " – "


def _offering_tag(offering_name: str, suffix: str) -> Tag:
    return tag_get_or_create(name=f"{offering_name}{TAG_SEPARATOR}{suffix}")[0]


@transaction.atomic
def offering_create(
    *,
    name: str,
    kind: str = "stage_release",
    description: str = "",
    store_password: bool = False,
    password_field_key: str = "accessally_password",
    slug: str | None = None,
    image=None,
    progression: str | None = None,
) -> Offering:
    """Create an offering and its tags by the naming convention (with its picture and
    progression, when the admin's form gives them)."""
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("An offering needs a name.")
    slug = slugify(slug or name)
    if Offering.objects.filter(name__iexact=name).exists():
        raise ValidationError(f"An offering named {name!r} already exists.")
    if Offering.objects.filter(slug=slug).exists():
        raise ValidationError(f"The address /offerings/{slug}/ is taken; choose another slug.")
    if store_password:
        field = CustomField.objects.filter(key=password_field_key).first()
        if field is None:
            field = custom_field_create(label=password_field_key)
        if field.key != password_field_key:
            raise ValidationError(
                f"{password_field_key!r} is not a usable custom field key; use lower-case "
                "letters, digits and underscores."
            )
        custom_field_mark_sensitive(field=field)
    offering = Offering.objects.create(
        name=name,
        slug=slug,
        kind=kind,
        description=description,
        store_password=store_password,
        password_field_key=password_field_key,
        base_tag=_offering_tag(name, "Base Access"),
        instant_tag=_offering_tag(name, "Instant Access"),
        revoke_tag=_offering_tag(name, "Revoke Access"),
        purchase_tag=_offering_tag(name, "Purchase Success"),
    )
    if image or (progression is not None and progression != offering.progression):
        offering.image = image or offering.image
        offering.progression = progression or offering.progression
        offering.save(update_fields=["image", "progression"])
    return offering


OFFERING_EDITABLE_FIELDS = [
    "name",
    "slug",
    "kind",
    "description",
    "image",
    "progression",
    "store_password",
    "password_field_key",
]


@transaction.atomic
def offering_update(*, offering: Offering) -> Offering:
    """Save what the admin's form changed on an offering (its tags stay as they are)."""
    offering.save(update_fields=OFFERING_EDITABLE_FIELDS)
    return offering


def _check_rule(rule: str, days: int, date: datetime | None) -> None:
    if rule not in ReleaseRule.values:
        raise ValidationError(f"Unknown release rule {rule!r}.")
    if rule == ReleaseRule.DAYS_AFTER and (days is None or days < 1):
        raise ValidationError("A module released N days after access needs N of at least 1.")
    if rule == ReleaseRule.ON_DATE and date is None:
        raise ValidationError("A module released on a date needs the date.")


@transaction.atomic
def module_add(
    *,
    offering: Offering,
    title: str,
    release_rule: str = ReleaseRule.IMMEDIATELY,
    release_days: int = 0,
    release_date: datetime | None = None,
) -> Module:
    _check_rule(release_rule, release_days, release_date)
    top = offering.modules.aggregate(top=Max("position"))["top"]
    position = (top or 0) + 1
    return Module.objects.create(
        offering=offering,
        position=position,
        title=title.strip(),
        release_rule=release_rule,
        release_days=release_days or 0,
        release_date=release_date,
        access_tag=_fresh_module_tag(offering, position),
    )


def _fresh_module_tag(offering: Offering, position: int) -> Tag:
    """The module's access tag by the naming convention, never one a deleted module left
    behind (members who held that one must not see the new module)."""
    name = f"{offering.name}{TAG_SEPARATOR}Module {position} Access"
    candidate, n = name, 2
    while True:
        tag, created = tag_get_or_create(name=candidate)
        if created or not (tag.taggings.exists() or Module.objects.filter(access_tag=tag).exists()):
            return tag
        candidate, n = f"{name} ({n})", n + 1


@transaction.atomic
def module_set_rule(
    *,
    module: Module,
    release_rule: str,
    release_days: int = 0,
    release_date=None,
    title: str | None = None,
) -> Module:
    """Change a module's title or when it opens. Members who have it keep it (releases are
    stored); for the others the next due time is recomputed."""
    _check_rule(release_rule, release_days, release_date)
    if title is not None and title.strip():
        module.title = title.strip()
    rule_changed = (module.release_rule, module.release_days, module.release_date) != (
        release_rule,
        release_days or 0,
        release_date,
    )
    module.release_rule, module.release_days = release_rule, release_days or 0
    module.release_date = release_date
    module.save(update_fields=["title", "release_rule", "release_days", "release_date"])
    if not rule_changed:
        return module
    grants = list(grants_active_for_update(offering_id=module.offering_id))
    grants_release_due(grants=grants, now=timezone.now(), source="rule changed")
    return module


def lesson_body_clean(body: str) -> str:
    """Lessons are HTML written by creators: content.py's allowlist keeps formatting, links and
    video embeds from known hosts, and drops scripts."""
    return lesson_html_clean(body).html


@transaction.atomic
def lesson_add(
    *,
    module: Module,
    title: str,
    body: str = "",
    completion_tag: str | None = None,
    video_url: str = "",
    slug: str = "",
) -> Lesson:
    lesson = Lesson(
        title=title,
        slug=slug,
        body=body,
        video_url=video_url,
        completion_tag=tag_get_or_create(name=completion_tag)[0] if completion_tag else None,
    )
    lesson_save(lesson=lesson, module=module)
    return lesson


@transaction.atomic
def modules_edit(
    *, offering: Offering, deleted: list[Module], changed: list[tuple[Module, dict]]
) -> None:
    """The admin's module list saved at once: the deleted modules go, a changed one gets its
    title and rule (``module_set_rule``), a new one is added (``module_add``)."""
    for module in deleted:
        module.delete()
    for module, data in changed:
        rule = {
            "title": data["title"],
            "release_rule": data["release_rule"],
            "release_days": data["release_days"],
            "release_date": data["release_date"],
        }
        if module.pk:
            module_set_rule(module=module, **rule)
        else:
            module_add(offering=offering, **rule)


@transaction.atomic
def lessons_edit(
    *, module: Module, deleted: list[Lesson], lessons: list[Lesson]
) -> list[tuple[Lesson, list[str] | ValidationError]]:
    """The admin's lesson list saved at once: the deleted lessons go, each other one is saved
    by ``lesson_save`` in a savepoint of its own, so one refused lesson (its error returned
    in place of what the cleaner removed) keeps the others."""
    for lesson in deleted:
        lesson.delete()
    results: list[tuple[Lesson, list[str] | ValidationError]] = []
    for lesson in lessons:
        try:
            results.append((lesson, lesson_save(lesson=lesson, module=module)))
        except ValidationError as exc:
            results.append((lesson, exc))
    return results
