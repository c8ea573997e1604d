"""What in offerings adds or uses a tag (for tags.dependents and the tag map)."""

from collections.abc import Collection

from django.db.models import Q
from django.urls import reverse

from apps.tags.dependents import Role, TagUse

from .models import Lesson, Module, Offering, ReleaseRule

_OFFERING_TAGS = (
    # (field, role, what): the convention tags and what the offering does with each.
    ("base_tag_id", Role.NEEDS, "access rule (base tag) of offering"),
    ("base_tag_id", Role.ADDS, "access grant of offering"),
    ("instant_tag_id", Role.NEEDS, "access rule (instant access) of offering"),
    ("revoke_tag_id", Role.NEEDS, "access rule (revoke, always wins) of offering"),
    ("revoke_tag_id", Role.ADDS, "access revoke of offering"),
    ("purchase_tag_id", Role.NEEDS, "update-user rule (purchase success) of offering"),
)


def offering_uses_of_tag(tag_ids: Collection[int] | None) -> list[TagUse]:
    """Three queries whatever the number of tags, offerings, modules or lessons."""
    offerings, modules = Offering.objects.all(), Module.objects.select_related("offering")
    lessons = Lesson.objects.filter(completion_tag__isnull=False).select_related("module")
    if tag_ids is not None:
        offerings = offerings.filter(
            Q(base_tag_id__in=tag_ids)
            | Q(instant_tag_id__in=tag_ids)
            | Q(revoke_tag_id__in=tag_ids)
            | Q(purchase_tag_id__in=tag_ids)
        )
        modules = modules.filter(access_tag_id__in=tag_ids)
        lessons = lessons.filter(completion_tag_id__in=tag_ids)
    uses = []
    for offering in offerings:
        url = reverse("admin:offerings_offering_change", args=[offering.pk])
        uses += [
            TagUse(getattr(offering, field), role, f"{what} {offering.name!r}", url)
            for field, role, what in _OFFERING_TAGS
        ]
    for module in modules:
        url = reverse("admin:offerings_module_change", args=[module.pk])
        uses.append(TagUse(module.access_tag_id, Role.NEEDS, f"access tag of module {module}", url))
        if module.release_rule != ReleaseRule.TAG_ONLY:
            uses.append(
                TagUse(module.access_tag_id, Role.ADDS, f"drip release of module {module}", url)
            )
    uses += [
        TagUse(
            lesson.completion_tag_id,
            Role.ADDS,
            f"completion tag of lesson {lesson.title!r}",
            reverse("admin:offerings_module_change", args=[lesson.module_id]),
        )
        for lesson in lessons
    ]
    return uses
