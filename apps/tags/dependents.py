"""Who depends on a tag. Tags know nothing of automations or offerings, so those apps
register a function here that lists what of theirs uses a tag; deleting a tag that something
uses is refused with that list (and the tag map of a later issue reads it too)."""

from collections.abc import Callable

_FINDERS: dict[str, Callable[[int], list[str]]] = {}


def tag_dependents_register(*, name: str, find: Callable[[int], list[str]]) -> None:
    _FINDERS[name] = find


def tag_dependents(tag_id: int) -> list[str]:
    return [line for find in _FINDERS.values() for line in find(tag_id)]
