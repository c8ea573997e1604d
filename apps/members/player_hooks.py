"""Places in the course player that apps above members fill (a quiz under a lesson, a track
choice on the first visit, certificates on the dashboard), registered in their
``AppConfig.ready()``: members knows nothing of them.

- a **gate** may answer instead of an offering or lesson page (the member must choose a track
  first); it gets the request, the viewer and the offering, and returns a response or None;
- a **panel** adds HTML to a page ("lesson": after the lesson's text; "offering": under its
  head; "dashboard": under the courses); it gets the request and a dict of the page's context;
- a **completion blocker** (request, lesson id) says why a lesson cannot be marked complete
  by its button (a quiz must be passed), or returns "".

Each runs a fixed number of queries per page, whatever the number of rows."""

from collections.abc import Callable

from django.utils.safestring import SafeString, mark_safe

Gate = Callable[..., object | None]
Panel = Callable[[object, dict], str]
Blocker = Callable[[object, int], str]

PANEL_PLACES = ("lesson", "offering", "dashboard")

_GATES: dict[str, Gate] = {}
_PANELS: dict[str, dict[str, Panel]] = {place: {} for place in PANEL_PLACES}
_BLOCKERS: dict[str, Blocker] = {}


def player_gate_register(*, name: str, gate: Gate) -> None:
    _GATES[name] = gate


def player_panel_register(*, name: str, place: str, provide: Panel) -> None:
    if place not in _PANELS:
        raise ValueError(f"Unknown panel place {place!r}: use one of {', '.join(PANEL_PLACES)}.")
    _PANELS[place][name] = provide


def lesson_completion_blocker_register(*, name: str, check: Blocker) -> None:
    _BLOCKERS[name] = check


def player_gate(request, viewer, offering):
    """The first gate's answer, or None: the page shows as usual. Previews pass every gate."""
    if viewer.read_only:
        return None
    for gate in _GATES.values():
        response = gate(request, viewer, offering)
        if response is not None:
            return response
    return None


def player_panels(place: str, request, context: dict) -> SafeString:
    # Each provider returns HTML rendered from its own templates (escaped there).
    return mark_safe("".join(provide(request, context) for provide in _PANELS[place].values()))  # noqa: S308


def lesson_completion_blocked(request, lesson_id: int) -> str:
    return next(
        (reason for check in _BLOCKERS.values() if (reason := check(request, lesson_id))), ""
    )
