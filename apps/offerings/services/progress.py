"""A member's progress through lessons."""

from django.db import transaction
from django.utils import timezone

from apps.crm.events import event_record
from apps.crm.models import Subscriber
from apps.tags.services import taggings_add

from ..event_types import LESSON_COMPLETED
from ..models import (
    Lesson,
    LessonProgress,
)


@transaction.atomic
def lesson_complete(*, subscriber: Subscriber, lesson: Lesson) -> bool:
    """Mark a lesson complete once: progress, the completion tag and the event. The tag is in
    the CRM the moment this commits (same database), so automations react at once."""
    progress, created = LessonProgress.objects.get_or_create(
        subscriber=subscriber, lesson=lesson, defaults={"completed_at": timezone.now()}
    )
    if not created:
        return False
    if lesson.completion_tag_id:
        taggings_add(
            pairs=[(subscriber.pk, lesson.completion_tag_id)], source=f"lesson:{lesson.pk}"
        )
    event_record(
        subscriber_id=subscriber.pk,
        type=LESSON_COMPLETED,
        payload={
            "lesson_id": lesson.pk,
            "module_id": lesson.module_id,
            "offering_id": lesson.module.offering_id,
        },
    )
    return True
