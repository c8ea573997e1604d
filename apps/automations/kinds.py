"""The registry of step kinds.

A kind cleans its settings (raising ``SettingsError`` naming the field) and says what happens
when a run arrives at a step of its kind, and when a run that waited there resumes. The engine
knows nothing of particular kinds: the email kinds (issue "CRM email") register themselves
the same way from their own module.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Automation, Node, Run


class SettingsError(ValueError):
    """A step's settings are invalid; ``field`` names the setting (dotted for nested ones)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class StepError(Exception):
    """A step cannot run for this subscriber (a deterministic failure, not worth retrying).

    Raise it before the step writes anything: the engine logs the failure in the same
    transaction as whatever the step already wrote (there is no savepoint per step, for speed).
    Any other exception rolls the whole advance back and is retried."""


@dataclass
class StepContext:
    run: "Run"
    node: "Node"
    automation: "Automation"
    now: datetime


@dataclass
class Outcome:
    """What a step decided. ``wait`` keeps the run at the step (until ``resume_at``, or with
    no ``resume_at`` until something wakes it); otherwise the run moves on, into ``branch`` if
    one is given, or stops with ``finish`` ("completed" or "exited"). ``held``: the step
    moved on but what it made was held (an email waiting for its data); logged as held."""

    detail: str = ""
    held: bool = False
    branch: str = ""
    wait: bool = False
    resume_at: datetime | None = None
    finish: str = ""


@dataclass
class NodeKind:
    key: str
    label: str
    # Settings that hold ids of other objects, for export / import by name and the tag map.
    tag_settings: tuple[str, ...] = field(default=())
    automation_settings: tuple[str, ...] = field(default=())
    sequence_settings: tuple[str, ...] = field(default=())
    has_branches: bool = False

    def clean(self, settings: dict) -> dict:
        return {}

    def arrive(self, ctx: StepContext) -> Outcome:
        return Outcome()

    def resume(self, ctx: StepContext) -> Outcome:
        return Outcome(detail="resumed")


_KINDS: dict[str, NodeKind] = {}


def kind_register(kind: NodeKind) -> None:
    _KINDS[kind.key] = kind


def kind_get(key: str) -> NodeKind:
    try:
        return _KINDS[key]
    except KeyError:
        raise SettingsError(
            "kind", f"unknown step kind {key!r}; known kinds: {', '.join(sorted(_KINDS))}"
        ) from None


def kinds_all() -> list[NodeKind]:
    return sorted(_KINDS.values(), key=lambda k: k.key)


def node_settings_clean(kind_key: str, settings) -> dict:
    """Validate and normalise a step's settings for its kind, or raise SettingsError."""
    if not isinstance(settings, dict):
        raise SettingsError("settings", "expected an object")
    return kind_get(kind_key).clean(settings)
