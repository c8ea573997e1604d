"""Automations as JSON: export, import, templates and the API share this schema.

Version 1::

    {"schema": "tessera.automation", "version": 1,
     "name": "...", "status": "draft|live|paused", "reentry": "after_finish|once",
     "description": "...",
     "triggers": [{"event_type": "tag_add", "tag": "Course Complete"}],
     "steps": [
       {"kind": "delay", "settings": {"amount": 2, "unit": "days"}},
       {"kind": "condition", "settings": {"condition": {"has": "VIP Member"}},
        "yes": [...steps...], "no": [...steps...]},
       {"kind": "add_tag", "settings": {"tag": "Certificate – VIP"}, "label": "optional"}
     ]}

Tags and other automations are named, not numbered, so a file moves between sites: a tag that
does not exist yet is created on import; another automation must exist (or be this one). An
event's offering filter is named too (``"offering": "Foundation Course"``, which must exist);
module and lesson filters are ids (``module_id``, ``lesson_id``). An event step may carry
``"timeout": {"amount": 2, "unit": "days"}`` and ``"on_timeout": "continue"`` or ``"exit"``.
Errors name the place: ``steps[1].yes[0] (delay): unit: must be one of ...``.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.crm.models import Sequence
from apps.tags.models import Tag
from apps.tags.services import tag_get_or_create

from .facts import offering_facts_all
from .graph import BRANCHES, graph_load
from .kinds import PortableNames, kind_get
from .models import Automation, AutomationStatus, Reentry
from .services import automation_create, automation_set_status, node_create, trigger_add

SCHEMA = "tessera.automation"
VERSION = 1
MAX_STEPS = 500
_TOP_KEYS = {
    "schema",
    "version",
    "name",
    "status",
    "reentry",
    "description",
    "wait_warn_days",
    "triggers",
    "steps",
}
_STEP_KEYS = {"kind", "settings", "label", "yes", "no"}


class AutomationFileError(ValidationError):
    """An automation file that cannot be imported; the message says where and why."""


# Export -----------------------------------------------------------------------------------


class _ExportNames(PortableNames):
    def __init__(self):
        self.tags = dict(Tag.objects.values_list("pk", "name"))
        self.automations = dict(Automation.objects.values_list("pk", "name"))
        self.sequences = dict(Sequence.objects.values_list("pk", "name"))


def _offering_out(spec: dict) -> dict:
    """An event spec's offering filter by name (a file moves between sites)."""
    if "offering_id" in spec:
        names = {o.id: o.name for o in offering_facts_all()}
        spec["offering"] = names.get(spec.pop("offering_id"))
    return spec


def automation_export(automation: Automation) -> dict:
    graph = graph_load(automation.pk)
    names = _ExportNames()

    def lane(parent_id, branch):
        steps = []
        for node_id in graph.lanes.get((parent_id, branch), []):
            node = graph.nodes[node_id]
            kind = kind_get(node.kind)
            settings = kind.settings_export(node.settings, names)
            step = {"kind": node.kind, "settings": _offering_out(settings)}
            if node.label:
                step["label"] = node.label
            if kind.has_branches:
                for arm in BRANCHES:
                    step[arm] = lane(node.pk, arm)
            steps.append(step)
        return steps

    triggers = []
    for trigger in automation.triggers.select_related("tag").order_by("pk"):
        entry = {"event_type": trigger.event_type, **trigger.params}
        if trigger.tag_id:
            entry["tag"] = trigger.tag.name
        triggers.append(_offering_out(entry))
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "name": automation.name,
        "status": automation.status,
        "reentry": automation.reentry,
        "description": automation.description,
        **({"wait_warn_days": automation.wait_warn_days} if automation.wait_warn_days else {}),
        "triggers": triggers,
        "steps": lane(None, ""),
    }


# Import -----------------------------------------------------------------------------------


def _fail(where: str, message: str):
    raise AutomationFileError(f"{where}: {message}" if where else message)


def _tag_id(name, where: str) -> int:
    if not isinstance(name, str) or not name.strip():
        _fail(where, f"expected a tag name, got {name!r}")
    try:
        return tag_get_or_create(name=name)[0].pk
    except ValidationError as exc:
        _fail(where, " ".join(exc.messages))


def _offering_in(spec: dict, where: str) -> dict:
    if "offering" not in spec:
        return spec
    spec = dict(spec)
    name = spec.pop("offering")
    found = next((o for o in offering_facts_all() if o.name == name), None)
    if found is None:
        known = ", ".join(repr(o.name) for o in offering_facts_all()) or "none yet"
        _fail(f"{where}.offering", f"no offering is named {name!r} (offerings: {known})")
    spec["offering_id"] = found.id
    return spec


class _ImportNames(PortableNames):
    """Names in a file to ids on this site: a new tag is created, another automation or a
    sequence must exist."""

    def tag_id(self, name, where: str) -> int:
        return _tag_id(name, where)

    def automation_id(self, name, where: str) -> int:
        target = Automation.objects.filter(name=name).first()
        if target is None:
            _fail(where, f"no automation is named {name!r}")
        return target.pk

    def sequence_id(self, name, where: str) -> int:
        target = Sequence.objects.filter(name=name).first()
        if target is None:
            _fail(where, f"no sequence is named {name!r}")
        return target.pk

    def fail(self, where: str, message: str):
        _fail(where, message)


def _settings_in(kind, settings, where: str) -> dict:
    if not isinstance(settings, dict):
        _fail(f"{where}.settings", "expected an object")
    settings = kind.settings_import(settings, f"{where}.settings", _ImportNames())
    return _offering_in(settings, f"{where}.settings")


def _step_kind(step, here: str):
    if not isinstance(step, dict):
        _fail(here, "expected a step object")
    unknown = sorted(set(step) - _STEP_KEYS)
    if unknown:
        _fail(here, f"unknown key {unknown[0]!r}")
    try:
        return kind_get(step.get("kind"))
    except ValueError as exc:
        _fail(here, str(exc))


def _import_lane(steps, where, automation, parent, branch, counter: list[int]) -> None:
    if not isinstance(steps, list):
        _fail(where, "expected a list of steps")
    for index, step in enumerate(steps):
        here = f"{where}[{index}]"
        counter[0] += 1
        if counter[0] > MAX_STEPS:
            _fail(here, f"an automation can have at most {MAX_STEPS} steps")
        kind = _step_kind(step, here)
        here = f"{here} ({kind.key})"
        if not kind.has_branches and any(branch in step for branch in BRANCHES):
            _fail(here, "only a condition has yes / no branches")
        settings = _settings_in(kind, step.get("settings", {}), here)
        try:
            node = node_create(
                automation=automation,
                kind=kind.key,
                settings=settings,
                parent=parent,
                branch=branch,
                label=str(step.get("label", ""))[:255],
            )
        except ValidationError as exc:
            message = " ".join(exc.messages).split(": ", 1)[-1]
            _fail(here, message)
        if kind.has_branches:
            for arm in BRANCHES:
                _import_lane(step.get(arm, []), f"{here}.{arm}", automation, node, arm, counter)


@transaction.atomic
def automation_import(data, *, name: str | None = None, status: str | None = None) -> Automation:
    """Create an automation from an exported document; all of it or nothing."""
    if not isinstance(data, dict):
        _fail("", "expected a JSON object")
    if data.get("schema") != SCHEMA:
        _fail("schema", f"expected {SCHEMA!r}, got {data.get('schema')!r}")
    if data.get("version") != VERSION:
        _fail("version", f"this Tessera reads version {VERSION}, got {data.get('version')!r}")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        _fail(unknown[0], "unknown key")
    status = status or data.get("status", AutomationStatus.DRAFT)
    if status not in AutomationStatus.values:
        _fail("status", f"expected one of {', '.join(AutomationStatus.values)}")
    reentry = data.get("reentry", Reentry.AFTER_FINISH)
    if reentry not in Reentry.values:
        _fail("reentry", f"expected one of {', '.join(Reentry.values)}")
    try:
        automation = automation_create(
            name=name or data.get("name", ""),
            status=AutomationStatus.DRAFT,
            reentry=reentry,
            description=str(data.get("description", "")),
            wait_warn_days=data.get("wait_warn_days"),
        )
    except ValidationError as exc:
        field = "wait_warn_days" if exc.code == "wait_warn_days_invalid" else "name"
        _fail(field, " ".join(exc.messages))
    triggers = data.get("triggers", [])
    if not isinstance(triggers, list):
        _fail("triggers", "expected a list")
    for index, trigger in enumerate(triggers):
        here = f"triggers[{index}]"
        if not isinstance(trigger, dict):
            _fail(here, "expected an object")
        trigger = _offering_in(dict(trigger), here)
        if "tag" in trigger:
            trigger["tag_id"] = _tag_id(trigger.pop("tag"), f"{here}.tag")
        try:
            trigger_add(automation=automation, settings=trigger)
        except ValidationError as exc:
            _fail(here, " ".join(exc.messages).split(": ", 1)[-1])
    _import_lane(data.get("steps", []), "steps", automation, None, "", [0])
    if status != AutomationStatus.DRAFT:
        automation_set_status(automation=automation, status=status)
    return automation
