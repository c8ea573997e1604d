"""Reads for the member pages: a fixed number of queries, whatever the number of offerings,
modules or lessons."""

from collections import Counter
from dataclasses import dataclass

from .models import AccessGrant, Lesson, LessonProgress, Module, Offering


@dataclass
class OfferingProgress:
    offering: Offering
    grant: AccessGrant
    lessons: int
    completed: int

    @property
    def percent(self) -> int:
        return round(100 * self.completed / self.lessons) if self.lessons else 0


def lesson_counts(*, subscriber_id: int, offering_ids: list[int]) -> tuple[Counter, Counter]:
    """Lessons per offering, and how many of them the subscriber completed: two queries."""
    totals = Counter(
        Lesson.objects.filter(module__offering_id__in=offering_ids).values_list(
            "module__offering_id", flat=True
        )
    )
    done = Counter(
        LessonProgress.objects.filter(
            subscriber_id=subscriber_id, lesson__module__offering_id__in=offering_ids
        ).values_list("lesson__module__offering_id", flat=True)
    )
    return totals, done


def dashboard_for(*, subscriber_id: int) -> list[OfferingProgress]:
    """The member's offerings (active grants) with their progress: three queries."""
    grants = list(
        AccessGrant.objects.filter(subscriber_id=subscriber_id, revoked_at__isnull=True)
        .select_related("offering")
        .order_by("offering__name")
    )
    totals, done = lesson_counts(
        subscriber_id=subscriber_id, offering_ids=[g.offering_id for g in grants]
    )
    return [
        OfferingProgress(g.offering, g, totals[g.offering_id], done[g.offering_id]) for g in grants
    ]


def offering_outline(*, offering: Offering) -> list[Module]:
    """Modules with their lessons prefetched: two queries."""
    return list(offering.modules.order_by("position").prefetch_related("lessons"))


def completed_lesson_ids(*, subscriber_id: int, offering: Offering) -> set[int]:
    return set(
        LessonProgress.objects.filter(
            subscriber_id=subscriber_id, lesson__module__offering=offering
        ).values_list("lesson_id", flat=True)
    )
