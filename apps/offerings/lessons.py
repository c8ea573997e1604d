"""Lesson verbs: saving a lesson (its cleaned body, its slug, its video) and its files."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from .content import lesson_html_clean, video_url_check
from .lock_objects import offering_for_update
from .models import Lesson, Module

SLUG_MAX_LENGTH = 200


def lesson_slug_unique(*, offering_id: int, title: str, slug: str = "", lesson_id=None) -> str:
    """The slug asked for, or one made from the title; a title's slug taken by another lesson
    of the offering gets -2, -3... A slug typed by hand that is taken is an error instead."""
    taken = set(
        Lesson.objects.filter(offering_id=offering_id)
        .exclude(pk=lesson_id)
        .values_list("slug", flat=True)
    )
    if slug:
        slug = slugify(slug)
        if not slug:
            raise ValidationError("A slug uses letters, digits, hyphens and underscores.")
        if slug in taken:
            raise ValidationError(
                f"Another lesson of this offering has the address {slug!r}; choose another slug "
                "or leave it empty to make one from the title."
            )
        return slug
    base = (slugify(title) or "lesson")[: SLUG_MAX_LENGTH - 6]
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


@transaction.atomic
def lesson_save(*, lesson: Lesson, module: Module) -> list[str]:
    """Create or update a lesson from an unsaved instance (the admin's form): the body through
    the allowlist, the slug unique within the offering, the video address checked. Returns
    what the cleaner removed, for the admin to show."""
    # Two editors saving lessons of one offering at once could both pick the same slug.
    offering_for_update(module.offering_id)
    lesson.module, lesson.offering_id = module, module.offering_id
    title = " ".join((lesson.title or "").split())
    if not title:
        raise ValidationError("A lesson needs a title.")
    lesson.title = title
    lesson.slug = lesson_slug_unique(
        offering_id=module.offering_id, title=title, slug=lesson.slug, lesson_id=lesson.pk
    )
    lesson.video_url = (lesson.video_url or "").strip()
    video_url_check(lesson.video_url)
    result = lesson_html_clean(lesson.body)
    lesson.body = result.html
    if not lesson.position:
        lesson.position = module.lessons.exclude(pk=lesson.pk).count() + 1
    lesson.save()
    return result.removed
