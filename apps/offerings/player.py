"""The course player's reads: an offering's outline for one viewer (modules, lessons, what is
open, what is done, when locked items open), previous / next, and where to continue. A fixed
number of queries whatever the size of the catalogue: the dashboard builds every offering's
outline from five queries, the lesson page from four."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from apps.tags.models import Tagging

from .models import AccessGrant, Lesson, LessonProgress, Module, Offering, Progression
from .services import ModuleAccess, offering_access, offering_relevant_tags


@dataclass
class LessonItem:
    lesson: Lesson
    module: ModuleAccess
    open: bool
    done: bool
    # Why it is locked: the module's reason, or "in order" (the previous lesson comes first).
    reason: str = ""

    @property
    def unlocks_at(self) -> datetime | None:
        return self.module.unlocks_at


@dataclass
class ModuleItem:
    access: ModuleAccess
    lessons: list[LessonItem] = field(default_factory=list)

    @property
    def module(self) -> Module:
        return self.access.module

    @property
    def open(self) -> bool:
        return self.access.open


@dataclass
class Outline:
    offering: Offering
    grant: AccessGrant | None
    modules: list[ModuleItem]

    @property
    def lessons(self) -> list[LessonItem]:
        return [item for module in self.modules for item in module.lessons]

    @property
    def any_open(self) -> bool:
        return any(m.open for m in self.modules)

    @property
    def total(self) -> int:
        return len(self.lessons)

    @property
    def completed(self) -> int:
        return sum(1 for item in self.lessons if item.done)

    @property
    def percent(self) -> int:
        return round(100 * self.completed / self.total) if self.total else 0

    def find(self, slug: str) -> LessonItem | None:
        return next((item for item in self.lessons if item.lesson.slug == slug), None)

    def neighbours(self, item: LessonItem) -> tuple[LessonItem | None, LessonItem | None]:
        lessons = self.lessons
        index = next(i for i, x in enumerate(lessons) if x.lesson.pk == item.lesson.pk)
        before = lessons[index - 1] if index > 0 else None
        after = lessons[index + 1] if index + 1 < len(lessons) else None
        return before, after

    @property
    def continue_at(self) -> LessonItem | None:
        """Where "Continue" goes: the first open lesson not yet done, else the first open one."""
        open_items = [item for item in self.lessons if item.open]
        return next((item for item in open_items if not item.done), None) or next(
            iter(open_items), None
        )


def _build(
    offering: Offering,
    modules: list[Module],
    lessons: dict[int, list[Lesson]],
    grant: AccessGrant | None,
    held: set[int],
    completed: set[int],
    subscriber_id: int | None,
) -> Outline:
    access = offering_access(
        subscriber_id=subscriber_id, offering=offering, modules=modules, grant=grant, held=held
    )
    in_order = offering.progression == Progression.IN_ORDER
    items, all_done_so_far = [], True
    for module_access in access:
        item = ModuleItem(module_access)
        for lesson in lessons[module_access.module.pk]:
            done = lesson.pk in completed
            is_open, reason = module_access.open, module_access.reason
            if is_open and in_order and not all_done_so_far:
                is_open, reason = False, "in order"
            item.lessons.append(LessonItem(lesson, module_access, is_open, done, reason))
            all_done_so_far = all_done_so_far and done
        items.append(item)
    return Outline(offering, grant, items)


def _modules(offering_ids: list[int]) -> tuple[dict[int, list[Module]], dict[int, list[Lesson]]]:
    """Modules by offering and lessons by module: two queries. Grouped here rather than by
    prefetch_related, which builds a queryset per module (a third of the dashboard's time)."""
    by_offering = defaultdict(list)
    for module in Module.objects.filter(offering_id__in=offering_ids).order_by("position", "pk"):
        by_offering[module.offering_id].append(module)
    by_module = defaultdict(list)
    for lesson in (
        Lesson.objects.filter(offering_id__in=offering_ids)
        .order_by("position", "pk")
        .only("pk", "module_id", "offering_id", "position", "title", "slug")
    ):
        by_module[lesson.module_id].append(lesson)
    return by_offering, by_module


def outlines_for(
    *,
    subscriber_id: int | None,
    pairs: list[tuple[Offering, AccessGrant | None]],
    held: set[int] | None = None,
    completed: set[int] | None = None,
) -> list[Outline]:
    """Outlines of several offerings, each with the viewer's grant (or None): modules and
    lessons (two queries), the subscriber's relevant tags (one) and completed lessons (one),
    unless a preview gives ``held`` and ``completed``."""
    offering_ids = [offering.pk for offering, _ in pairs]
    modules, lessons = _modules(offering_ids)
    if held is None:
        relevant = set()
        for offering, _ in pairs:
            relevant |= offering_relevant_tags(offering, modules[offering.pk])
        held = set(
            Tagging.objects.filter(subscriber_id=subscriber_id, tag_id__in=relevant).values_list(
                "tag_id", flat=True
            )
        )
    if completed is None:
        completed = set(
            LessonProgress.objects.filter(
                subscriber_id=subscriber_id, lesson__offering_id__in=offering_ids
            ).values_list("lesson_id", flat=True)
        )
    return [
        _build(offering, modules[offering.pk], lessons, grant, held, completed, subscriber_id)
        for offering, grant in pairs
    ]


def outline_for(
    *,
    offering: Offering,
    subscriber_id: int | None,
    grant: AccessGrant | None,
    held: set[int] | None = None,
    completed: set[int] | None = None,
) -> Outline:
    """One offering's outline for one viewer (a member, or a preview's chosen tags)."""
    return outlines_for(
        subscriber_id=subscriber_id, pairs=[(offering, grant)], held=held, completed=completed
    )[0]
