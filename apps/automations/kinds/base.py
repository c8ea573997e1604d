"""What a step kind is, and the registry of kinds.

A kind is one unit: it cleans its settings (raising ``SettingsError`` naming the field), says
what happens when a run arrives at a step of its kind and when a run that waited there resumes,
what its builder form shows and how a submitted form becomes settings, the one-line summary on
its card, what a dry run would do there, how its settings travel in the JSON format (names,
not ids), the tags it adds, removes or needs, and its own lint rules. Nothing outside
``kinds/`` tests a kind's name: the engine, builder, dry run, importer, lint and tag map ask
the kind.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from apps.tags.dependents import Role

if TYPE_CHECKING:
    from ..models import Automation, Node, Run


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
class Field:
    """One field of a step's edit form in the builder."""

    name: str
    label: str
    widget: str  # text, number, textarea, select, tag, checkbox, condition
    value: object = ""
    choices: list = field(default_factory=list)
    required: bool = True


@dataclass
class DryState:
    """What a dry run knows while it walks: the subscriber's tags and fields as the steps so
    far would leave them, and the names of the flow's tags (for the notes)."""

    tag_ids: set[int]
    fields: dict[str, str]
    names: dict[int, str]

    def tag_name(self, tag_id) -> str:
        return repr(self.names.get(tag_id, f"#{tag_id}"))


@dataclass(frozen=True)
class DryOutcome:
    """What a dry run says of a step: its note, the branch taken, and ``ending`` when the
    run would stop there ("waiting", "completed", "exited"; ``waits``: it waits there)."""

    note: str
    branch: str = ""
    ending: str = ""
    waits: bool = False


class PortableNames:
    """How a kind's settings name other objects in the JSON format. The importer passes one
    that resolves names to ids (creating tags) and raises the file error for ``fail``; the
    exporter one that maps ids to names."""

    tags: dict[int, str]
    automations: dict[int, str]
    sequences: dict[int, str]

    def tag_id(self, name, where: str) -> int:
        raise NotImplementedError

    def automation_id(self, name, where: str) -> int:
        raise NotImplementedError

    def sequence_id(self, name, where: str) -> int:
        raise NotImplementedError

    def fail(self, where: str, message: str):
        raise NotImplementedError


# A lint rule of a kind: (node, the lint's context) -> messages about that step.
KindLintRule = Callable[[Any, Any], Iterable[Any]]


@dataclass
class NodeKind:
    key: str
    label: str
    # Settings that hold ids of other objects, for export / import by name and the tag map.
    tag_settings: tuple[str, ...] = field(default=())
    automation_settings: tuple[str, ...] = field(default=())
    sequence_settings: tuple[str, ...] = field(default=())
    has_branches: bool = False
    # A step that ends the run on its path (nothing after it in its lane is reached).
    final: bool = False
    # What the tag map says the step does with its tags.
    tag_role: Role = Role.NEEDS
    # A test subscriber's run waiting here may skip the wait (the builder's "skip this wait").
    skippable_wait: bool = False
    lint_rules: tuple[KindLintRule, ...] = field(default=())

    # Settings and the engine ----------------------------------------------------------

    def clean(self, settings: dict) -> dict:
        return {}

    def arrive(self, ctx: StepContext) -> Outcome:
        return Outcome()

    def resume(self, ctx: StepContext) -> Outcome:
        return Outcome(detail="resumed")

    # The builder ------------------------------------------------------------------------

    def form_fields(self, settings: dict, ctx: dict) -> list[Field]:
        """The edit form of a step of this kind, filled from ``settings``."""
        return []

    def settings_from_form(self, data) -> dict:
        """The settings a submitted edit form means (tags by name, created if new); ``clean``
        (in the service) then says what else is wrong."""
        return {}

    def summary(self, settings: dict, ctx: dict) -> str:
        """The card's one line."""
        return self.label

    # The dry run ------------------------------------------------------------------------

    def dry_run(self, settings: dict, state: DryState) -> DryOutcome:
        return DryOutcome(f"would run: {self.label.lower()}")

    # Tags ---------------------------------------------------------------------------------

    def tags_used(self, settings: dict) -> set[int]:
        """Every tag the step names (for the tag map, the builder's names, the lint)."""
        return {settings.get(key) for key in self.tag_settings} - {None, ""}

    def tags_needed(self, settings: dict) -> set[int]:
        """The tags something else must add for this step to match (lint: "nothing adds")."""
        return set()

    @property
    def names_tags(self) -> bool:
        return bool(self.tag_settings)

    def chain_links(self, settings: dict, link: dict[str, set]) -> None:
        """Add to an automation's links (selectors: what moves people in it, what it adds,
        sets, starts and reads) what a step of this kind contributes."""

    # The JSON format ------------------------------------------------------------------------

    def settings_export(self, settings: dict, names: PortableNames) -> dict:
        out = dict(settings)
        for key in self.sequence_settings:
            if key in out:
                out["sequence"] = names.sequences.get(out.pop(key))
        for key in self.tag_settings:
            if key in out:
                out["tag"] = names.tags.get(out.pop(key))
        for key in self.automation_settings:
            if key in out:
                out["automation"] = names.automations.get(out.pop(key))
        return out

    def settings_import(self, settings: dict, where: str, names: PortableNames) -> dict:
        settings = dict(settings)
        if "tag" in settings and self.tag_settings:
            settings[self.tag_settings[0]] = names.tag_id(settings.pop("tag"), f"{where}.tag")
        if "automation" in settings and self.automation_settings:
            settings[self.automation_settings[0]] = names.automation_id(
                settings.pop("automation"), f"{where}.automation"
            )
        if "sequence" in settings and self.sequence_settings:
            settings[self.sequence_settings[0]] = names.sequence_id(
                settings.pop("sequence"), f"{where}.sequence"
            )
        return settings


_KINDS: dict[str, NodeKind] = {}


def kind_register(kind: NodeKind) -> None:
    _KINDS[kind.key] = kind


def kind_unregister(key: str) -> None:
    _KINDS.pop(key, None)


def kind_get(key: str) -> NodeKind:
    try:
        return _KINDS[key]
    except (KeyError, TypeError):
        raise SettingsError(
            "kind", f"unknown step kind {key!r}; known kinds: {', '.join(sorted(_KINDS))}"
        ) from None


def kinds_all() -> list[NodeKind]:
    return sorted(_KINDS.values(), key=lambda k: k.key)


def kinds_where(test: Callable[[NodeKind], bool]) -> list[str]:
    """The keys of the kinds that pass ``test`` (for a query narrowed to some kinds)."""
    return [k.key for k in kinds_all() if test(k)]


def node_settings_clean(kind_key: str, settings) -> dict:
    """Validate and normalise a step's settings for its kind, or raise SettingsError."""
    if not isinstance(settings, dict):
        raise SettingsError("settings", "expected an object")
    return kind_get(kind_key).clean(settings)
