"""The visual builder's model: the flow as nested lanes of cards, each with its live counts,
lint messages, edit form and dry-run mark; and the edit forms' fields read back into step
settings. Every write still goes through ``services`` (the views only call them).

A fixed number of queries whatever the number of steps.
"""

import json
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from apps.crm.event_types import event_types_all
from apps.crm.models import CustomField, Sequence
from apps.tags.conditions import FIELD_OPS
from apps.tags.event_types import TAG_ADD, TAG_REMOVE
from apps.tags.models import Tag
from apps.tags.services import tag_get_or_create

from .dryrun import DryRun
from .facts import offering_facts_all
from .graph import Graph
from .kinds import kind_get, kinds_all
from .lint import LintMessage
from .models import Automation, Run, RunStatus
from .nodes import DELAY_UNITS, ON_TIMEOUT, TIMEOUT_UNITS

CONDITION_ROWS_MIN = 2
TAG_CHOICES_MAX = 2000
TEST_RUNS_SHOWN = 50
TESTS = [("has", "has tag"), ("has_not", "has not tag")] + [
    (op, f"field {op.replace('_', ' ')}") for op in FIELD_OPS
]


@dataclass
class Field:
    name: str
    label: str
    widget: str  # text, number, textarea, select, tag, checkbox, condition
    value: object = ""
    choices: list = field(default_factory=list)
    required: bool = True


def kind_fields(kind: str, settings: dict, ctx: dict) -> list[Field]:
    """The edit form of a step of ``kind``, filled from ``settings``."""
    names = ctx["tag_names"]
    tag = names.get(settings.get("tag_id"), "")
    if kind == "delay":
        return [
            Field("amount", "Wait", "number", settings.get("amount", 1)),
            Field(
                "unit", "", "select", settings.get("unit", "days"), [(u, u) for u in DELAY_UNITS]
            ),
            Field(
                "until_field",
                "or until the date in field",
                "text",
                settings.get("until_field", ""),
                required=False,
            ),
        ]
    if kind in ("add_tag", "remove_tag"):
        return [Field("tag", "Tag", "tag", tag)]
    if kind == "condition":
        return [
            Field(
                "condition",
                "Condition",
                "condition",
                _condition_rows(settings.get("condition"), names),
            )
        ]
    if kind == "event":
        timeout = settings.get("timeout") or {}
        return [
            Field(
                "event_type",
                "Event",
                "select",
                settings.get("event_type", TAG_ADD),
                ctx["event_choices"],
            ),
            Field("tag", "Tag (tag events)", "tag", tag, required=False),
            Field(
                "place",
                "Only for (access, module and lesson events)",
                "select",
                place_value(settings),
                ctx["place_choices"],
                required=False,
            ),
            Field(
                "timeout_amount",
                "Wait at most (empty: as long as it takes)",
                "number",
                timeout.get("amount", ""),
                required=False,
            ),
            Field(
                "timeout_unit",
                "",
                "select",
                timeout.get("unit", "days"),
                [(u, u) for u in TIMEOUT_UNITS],
                required=False,
            ),
            Field(
                "on_timeout",
                "then",
                "select",
                settings.get("on_timeout", "continue"),
                list(ON_TIMEOUT.items()),
                required=False,
            ),
        ]
    if kind == "send_email":
        return [
            Field("subject", "Subject", "text", settings.get("subject", "")),
            Field("body", "Body (Liquid)", "textarea", settings.get("body", "")),
            Field(
                "purchase",
                "About a purchase (keeps flowing after an unsubscribe)",
                "checkbox",
                settings.get("purchase", False),
                required=False,
            ),
        ]
    if kind == "email_sequence":
        return [
            Field(
                "sequence_id",
                "Sequence",
                "select",
                settings.get("sequence_id", ""),
                ctx["sequence_choices"],
            )
        ]
    if kind == "webhook":
        return [
            Field("url", "URL", "text", settings.get("url", "")),
            Field(
                "payload",
                "Payload (Liquid; empty: Kit's subscriber JSON)",
                "textarea",
                settings.get("payload", ""),
                required=False,
            ),
        ]
    if kind == "set_field":
        return [
            Field("key", "Custom field", "select", settings.get("key", ""), ctx["field_choices"]),
            Field("value", "Value", "text", settings.get("value", ""), required=False),
        ]
    if kind in ("start_automation", "remove_from_automation"):
        return [
            Field(
                "automation_id",
                "Automation",
                "select",
                settings.get("automation_id", ""),
                ctx["automation_choices"],
            )
        ]
    return []


def _condition_rows(condition, names: dict[int, str]) -> dict:
    """A flat AND / OR of tag and field tests as form rows; anything deeper as JSON."""
    rows, join = [], "and"
    if condition:
        ((op, arg),) = condition.items()
        leaves = arg if op in ("and", "or") else [condition]
        join = op if op in ("and", "or") else "and"
        for leaf in leaves:
            ((test, value),) = leaf.items()
            if test in ("has", "has_not"):
                rows.append({"test": test, "subject": names.get(value, ""), "value": ""})
            elif test == "field":
                rows.append(
                    {"test": value["op"], "subject": value["key"], "value": value.get("value", "")}
                )
            else:
                return {"join": join, "rows": [], "json": json.dumps(condition)}
    # One empty row to add a test with; at least two rows in all.
    rows += [{"test": "has", "subject": "", "value": ""}] * max(1, CONDITION_ROWS_MIN - len(rows))
    return {"join": join, "rows": rows, "json": ""}


def _tag_id_from(name: str, label: str) -> int:
    name = (name or "").strip()
    if not name:
        raise ValidationError(f"{label}: type a tag name (a new name creates the tag).")
    return tag_get_or_create(name=name)[0].pk


def _condition_from(data) -> dict:
    raw = (data.get("condition_json") or "").strip()
    if raw:
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ValidationError(f"Condition: not valid JSON ({exc}).") from None
    leaves = []
    tests, subjects, values = (data.getlist(k) for k in ("cond_test", "cond_subject", "cond_value"))
    if not len(tests) == len(subjects) == len(values):
        raise ValidationError(
            "Condition: every row needs its test, subject and value boxes; reload the page "
            "and fill the rows in again."
        )
    for i, (test, subject, value) in enumerate(zip(tests, subjects, values, strict=True)):
        subject, value = (subject or "").strip(), (value or "").strip()
        if not subject:
            continue
        if test in ("has", "has_not"):
            leaves.append({test: _tag_id_from(subject, f"Condition row {i + 1}")})
        else:
            check = {"key": subject, "op": test}
            if value:
                check["value"] = value
            leaves.append({"field": check})
    if not leaves:
        raise ValidationError(
            "Condition: fill in at least one test (for example: has tag VIP Member)."
        )
    if len(leaves) == 1:
        return leaves[0]
    join = data.get("cond_join") if data.get("cond_join") in ("and", "or") else "and"
    return {join: leaves}


def settings_from_form(kind: str, data) -> dict:
    """The step settings a submitted edit form means (tags by name, created if new); the
    kind's own ``clean`` (in the service) then says what else is wrong."""
    if kind == "delay":
        if (data.get("until_field") or "").strip():
            return {"until_field": data["until_field"].strip()}
        return {"amount": (data.get("amount") or "").strip(), "unit": data.get("unit")}
    if kind in ("add_tag", "remove_tag"):
        return {"tag_id": _tag_id_from(data.get("tag"), "Tag")}
    if kind == "condition":
        return {"condition": _condition_from(data)}
    if kind == "event":
        settings = trigger_settings_from_form(data, tag_label="Tag")
        amount = (data.get("timeout_amount") or "").strip()
        if amount:
            settings["timeout"] = {"amount": amount, "unit": data.get("timeout_unit")}
            settings["on_timeout"] = data.get("on_timeout") or "continue"
        return settings
    if kind == "send_email":
        return {
            "subject": data.get("subject", ""),
            "body": data.get("body", ""),
            "purchase": bool(data.get("purchase")),
        }
    if kind == "email_sequence":
        return {"sequence_id": data.get("sequence_id", "")}
    if kind == "webhook":
        return {"url": data.get("url", ""), "payload": data.get("payload", "")}
    if kind == "set_field":
        return {"key": data.get("key", ""), "value": data.get("value", "")}
    if kind in ("start_automation", "remove_from_automation"):
        return {"automation_id": data.get("automation_id", "")}
    return {}


def trigger_settings_from_form(data, *, tag_label: str = "Entry tag") -> dict:
    """An entry event (or an event step's event): its type, its tag for tag events, the
    offering / module / lesson it is narrowed to, and a product id for purchases."""
    settings = {"event_type": data.get("event_type")}
    if settings["event_type"] in (TAG_ADD, TAG_REMOVE):
        settings["tag_id"] = _tag_id_from(data.get("tag"), tag_label)
    settings.update(_place_from(data.get("place")))
    product = (data.get("product_id") or "").strip()
    if product:
        settings["product_id"] = product
    return settings


def _place_from(value) -> dict:
    """The "Only for" select: "offering:3", "module:3:7" or "lesson:3:7:12" (ids)."""
    kind, _, ids = (value or "").partition(":")
    parts = ids.split(":") if ids else []
    names = {"offering": 1, "module": 2, "lesson": 3}
    if kind not in names or len(parts) != names[kind] or not all(p.isdigit() for p in parts):
        return {}
    keys = ("offering_id", "module_id", "lesson_id")[: names[kind]]
    return dict(zip(keys, map(int, parts), strict=True))


def place_value(settings: dict) -> str:
    ids = [settings.get(k) for k in ("offering_id", "module_id", "lesson_id")]
    ids = [str(i) for i in ids if i]
    if not ids:
        return ""
    return f"{('offering', 'module', 'lesson')[len(ids) - 1]}:{':'.join(ids)}"


def place_choices() -> list[tuple[str, str]]:
    """Every offering, module and lesson, for the "Only for" select (one read of the facts)."""
    choices = [("", "any offering")]
    for offering in offering_facts_all():
        choices.append((f"offering:{offering.id}", offering.name))
        for module in offering.modules:
            here = f"{offering.id}:{module.id}"
            choices.append((f"module:{here}", f"{offering.name} › {module.title}"))
            choices += [
                (f"lesson:{here}:{lesson_id}", f"{offering.name} › {module.title} › {title}")
                for lesson_id, title in module.lessons
            ]
    return choices


def place_text(settings: dict, choices: dict[str, str]) -> str:
    value = place_value(settings)
    text = f" for {choices.get(value, value)}" if value else ""
    if settings.get("product_id"):
        text += f" (product {settings['product_id']})"
    return text


# Reading ----------------------------------------------------------------------------------


def _condition_text(node, names: dict[int, str]) -> str:
    ((op, arg),) = node.items()
    if op == "has":
        return f"has {names.get(arg, arg)!r}"
    if op == "has_not":
        return f"has not {names.get(arg, arg)!r}"
    if op == "field":
        value = f" {arg['value']!r}" if "value" in arg else ""
        return f"{arg['key']} {arg['op'].replace('_', ' ')}{value}"
    if op == "not":
        return f"NOT ({_condition_text(arg, names)})"
    return f" {op.upper()} ".join(_condition_text(child, names) for child in arg)


def node_summary(node, ctx: dict) -> str:
    settings, names = node.settings, ctx["tag_names"]
    kind = node.kind
    if kind == "delay":
        if "until_field" in settings:
            return f"Wait until the date in {settings['until_field']}"
        return f"Wait {settings['amount']} {settings['unit']}"
    if kind == "add_tag":
        return f"Add tag {names.get(settings['tag_id'], '?')!r}"
    if kind == "remove_tag":
        return f"Remove tag {names.get(settings['tag_id'], '?')!r}"
    if kind == "condition":
        return f"If {_condition_text(settings['condition'], names)}"
    if kind == "event":
        label = ctx["event_labels"].get(settings["event_type"], settings["event_type"])
        tag = f" {names.get(settings['tag_id'], '?')!r}" if settings.get("tag_id") else ""
        place = place_text(settings, ctx["place_names"])
        timeout = settings.get("timeout")
        limit = (
            f", at most {timeout['amount']} {timeout['unit']} then "
            f"{ON_TIMEOUT[settings.get('on_timeout', 'continue')]}"
            if timeout
            else ""
        )
        return f"Wait for: {label}{tag}{place}{limit}"
    if kind == "send_email":
        return f"Send email {settings['subject']!r}"
    if kind == "email_sequence":
        return f"Email sequence {ctx['sequence_names'].get(settings['sequence_id'], '?')!r}"
    if kind == "webhook":
        return f"POST to {settings['url']}"
    if kind == "set_field":
        return f"Set {settings['key']} to {settings['value']!r}"
    if kind in ("start_automation", "remove_from_automation"):
        verb = "Start" if kind == "start_automation" else "Remove from"
        return f"{verb} {ctx['automation_names'].get(settings['automation_id'], '?')!r}"
    return kind_get(kind).label


def builder_context(automation: Automation) -> dict:
    """What every card's summary and form needs, read once (a fixed number of queries)."""
    tags = list(Tag.objects.order_by("name").values_list("pk", "name")[:TAG_CHOICES_MAX])
    automations = list(Automation.objects.order_by("name").values_list("pk", "name"))
    sequences = list(Sequence.objects.order_by("name").values_list("pk", "name"))
    field_keys = list(CustomField.objects.order_by("key").values_list("key", "label"))
    events = [(t.key, t.label) for t in event_types_all()]
    places = place_choices()
    return {
        "tag_names": dict(tags),
        "all_tag_names": [name for _, name in tags],
        "automation_names": dict(automations),
        "automation_choices": automations,
        "sequence_names": dict(sequences),
        "sequence_choices": sequences,
        "field_choices": field_keys,
        "event_choices": events,
        "event_labels": dict(events),
        "place_choices": places,
        "place_names": dict(places),
        "kinds": [(k.key, k.label) for k in kinds_all()],
        "tests": TESTS,
    }


def tag_names_for(graph: Graph, triggers, ctx: dict) -> None:
    """Add the flow's own tags to ``ctx['tag_names']`` if the choice list was cut short."""
    wanted = {t.tag_id for t in triggers if t.tag_id}
    for node in graph.nodes.values():
        wanted |= {node.settings.get("tag_id")} - {None}
        if node.kind == "condition":
            wanted |= {
                a for op, a in _leaves(node.settings["condition"]) if op in ("has", "has_not")
            }
    missing = wanted - set(ctx["tag_names"])
    if missing:
        ctx["tag_names"].update(Tag.objects.filter(pk__in=missing).values_list("pk", "name"))


def _leaves(node):
    ((op, arg),) = node.items()
    if op in ("and", "or"):
        for child in arg:
            yield from _leaves(child)
    elif op == "not":
        yield from _leaves(arg)
    else:
        yield op, arg


@dataclass
class Card:
    node: object
    kind_label: str
    summary: str
    waiting: int
    passed: int
    fields: list[Field]
    messages: list[str]
    waiting_below: int = 0
    moves_to: str = ""
    yes: "Lane | None" = None
    no: "Lane | None" = None
    test_runs: list = field(default_factory=list)
    dry: object = None
    error: str = ""
    open: bool = False
    slot: dict = field(default_factory=dict)


@dataclass
class Lane:
    parent_id: int | None
    branch: str
    cards: list[Card]
    # The "+" after the last card; each card's own "+" (before it) is ``Card.slot``.
    end_slot: dict = field(default_factory=dict)


def canvas_build(
    *,
    graph: Graph,
    ctx: dict,
    lint: list[LintMessage],
    test_runs: list[Run],
    dry: DryRun | None = None,
    error_key: str = "",
    error: str = "",
    open_slot: dict | None = None,
) -> Lane:
    by_node: dict[int, list[str]] = {}
    for message in lint:
        if message.node_id:
            by_node.setdefault(message.node_id, []).append(message.text)
    runs_at: dict[int, list[Run]] = {}
    for run in test_runs:
        runs_at.setdefault(run.current_node_id, []).append(run)
    on_path = dry.on_path() if dry else {}

    def slot(parent_id, branch, position) -> dict:
        here = {"parent": str(parent_id or ""), "branch": branch, "position": str(position)}
        if open_slot and all(open_slot.get(k) == v for k, v in here.items()):
            return {**here, "open": open_slot}
        return here

    def lane(parent_id, branch) -> Lane:
        cards = []
        for node_id in graph.lanes.get((parent_id, branch), []):
            node = graph.nodes[node_id]
            card = Card(
                node=node,
                kind_label=kind_get(node.kind).label,
                summary=node_summary(node, ctx),
                waiting=getattr(node, "waiting_here", 0),
                passed=getattr(node, "passed", 0),
                fields=kind_fields(node.kind, node.settings, ctx),
                messages=by_node.get(node_id, []),
                test_runs=runs_at.get(node_id, []),
                dry=on_path.get(node_id),
                slot=slot(parent_id, branch, node.position),
            )
            if error_key == f"node-{node_id}":
                card.error, card.open = error, True
            if node.kind == "condition":
                card.yes, card.no = lane(node_id, "yes"), lane(node_id, "no")
            below = [graph.nodes[n] for n in _subtree(graph, node_id)]
            card.waiting_below = sum(getattr(n, "waiting_here", 0) for n in below)
            following = graph.after(node_id)
            card.moves_to = (
                node_summary(graph.nodes[following], ctx) if following else "the end (completed)"
            )
            cards.append(card)
        return Lane(
            parent_id=parent_id, branch=branch, cards=cards, end_slot=slot(parent_id, branch, "")
        )

    return lane(None, "")


def _subtree(graph: Graph, node_id: int) -> list[int]:
    ids = [node_id]
    if graph.nodes[node_id].kind == "condition":
        ids += [n.pk for n in graph.walk(node_id, "yes")] + [
            n.pk for n in graph.walk(node_id, "no")
        ]
    return ids


def test_runs_waiting(automation: Automation) -> list[Run]:
    """Test subscribers' runs waiting on a delay in this automation (for "skip this wait")."""
    return list(
        Run.objects.filter(
            automation=automation,
            status=RunStatus.WAITING,
            arrived=True,
            subscriber__is_test=True,
            current_node__kind="delay",
        )
        .select_related("subscriber")
        .order_by("resume_at", "pk")[:TEST_RUNS_SHOWN]
    )
