"""What adds a tag and what depends on it.

Tags know nothing of automations, offerings or webhook endpoints, so those apps register a
finder here (in ``AppConfig.ready()``) that lists every use of tags of theirs as ``TagUse``
rows, for all tags at once in a fixed number of queries. Deleting a tag that something uses is
refused with that list; the tag map (``tagmap.py``) reads the same rows for every tag.
"""

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADDS = "adds"  # puts the tag on subscribers (a step, a lesson, an operation, a form)
    NEEDS = "needs"  # reacts to it or reads it (a trigger, a condition, an access rule, a hook)
    REMOVES = "removes"  # takes it off (a remove-tag step, a webhook operation)


@dataclass(frozen=True)
class TagUse:
    """One thing that uses one tag: ``text`` says what ("entry trigger of 'Welcome'"), ``url``
    is its admin page (may be empty)."""

    tag_id: int
    role: Role
    text: str
    url: str = ""


# A finder gets the tag ids asked about (None: every tag) and may return uses of others too.
Finder = Callable[[Collection[int] | None], Iterable[TagUse]]
_FINDERS: dict[str, Finder] = {}


def tag_dependents_register(*, name: str, find: Finder) -> None:
    _FINDERS[name] = find


def tag_uses_all(*, tag_ids: Collection[int] | None = None) -> list[TagUse]:
    """Every registered use of these tags (of all tags with None), in registration order."""
    wanted = None if tag_ids is None else set(tag_ids)
    return [
        use
        for find in _FINDERS.values()
        for use in find(wanted)
        if wanted is None or use.tag_id in wanted
    ]


def tag_dependents(tag_id: int) -> list[str]:
    """What would break without this tag (any role), said in words."""
    return [use.text for use in tag_uses_all(tag_ids=[tag_id])]
