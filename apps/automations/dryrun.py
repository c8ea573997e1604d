"""Dry run: the path a run would take now, for a subscriber or for typed tags and fields,
with no side effect at all (nothing is written; tags a step would add are only remembered
for the conditions further down).

Delays are passed through ("would wait 2 days here"); a step that waits for something to
happen (an event, a sequence) is where the dry run stops, shown as waiting.
"""

from dataclasses import dataclass, field

from apps.crm.models import SubscriberFieldValue
from apps.tags.conditions import condition_evaluate
from apps.tags.models import Tag, Tagging

from .graph import Graph
from .kinds import kind_get

DRY_RUN_MAX_STEPS = 1000


@dataclass(frozen=True)
class DryStep:
    node_id: int
    note: str
    branch: str = ""
    waits: bool = False


@dataclass
class DryRun:
    steps: list[DryStep] = field(default_factory=list)
    ending: str = ""

    def on_path(self) -> dict[int, DryStep]:
        return {step.node_id: step for step in self.steps}


def subscriber_state(*, subscriber_id: int) -> tuple[set[int], dict[str, str]]:
    """The subscriber's tags and custom field values as they are now (two reads)."""
    tag_ids = set(
        Tagging.objects.filter(subscriber_id=subscriber_id).values_list("tag_id", flat=True)
    )
    fields = dict(
        SubscriberFieldValue.objects.filter(subscriber_id=subscriber_id).values_list(
            "field__key", "value"
        )
    )
    return tag_ids, fields


def _tag_name(tag_id, names: dict[int, str]) -> str:
    return repr(names.get(tag_id, f"#{tag_id}"))


def _delay_note(settings: dict, fields: dict[str, str]) -> str:
    if "until_field" in settings:
        key = settings["until_field"]
        value = fields.get(key) or ""
        return f"would wait until {value} ({key}) here" if value else f"{key} is empty: no wait"
    if not settings["amount"]:
        return "no delay"
    unit = settings["unit"] if settings["amount"] != 1 else settings["unit"].rstrip("s")
    return f"would wait {settings['amount']} {unit} here"


def automation_dry_run(*, graph: Graph, tag_ids: set[int], fields: dict[str, str]) -> DryRun:
    """Walk the flow from its first step as the engine would for someone holding ``tag_ids``
    and ``fields`` now."""
    tag_ids, fields = set(tag_ids), dict(fields)
    mentioned = {n.settings.get("tag_id") for n in graph.nodes.values()} - {None}
    names = dict(Tag.objects.filter(pk__in=mentioned).values_list("pk", "name"))
    result = DryRun()
    current = graph.first()
    while current is not None and len(result.steps) < DRY_RUN_MAX_STEPS:
        node = graph.nodes[current]
        settings = node.settings
        branch = ""
        if node.kind == "condition":
            matched = condition_evaluate(settings["condition"], tag_ids, fields)
            branch = "yes" if matched else "no"
            note = "condition met: Yes" if matched else "condition not met: No"
        elif node.kind == "delay":
            note = _delay_note(settings, fields)
        elif node.kind in ("add_tag", "remove_tag"):
            had = settings["tag_id"] in tag_ids
            if node.kind == "add_tag":
                tag_ids.add(settings["tag_id"])
                verb = "already has" if had else "would add"
            else:
                tag_ids.discard(settings["tag_id"])
                verb = "would remove" if had else "does not have"
            note = f"{verb} {_tag_name(settings['tag_id'], names)}"
        elif node.kind == "set_field":
            fields[settings["key"]] = settings["value"]
            note = f"would set {settings['key']} to {settings['value']!r}"
        elif node.kind == "send_email":
            note = f"would send {settings['subject']!r}"
        elif node.kind == "webhook":
            note = f"would POST to {settings['url']}"
        elif node.kind in ("event", "email_sequence"):
            what = (
                settings.get("event_type", "").replace("_", " ")
                if node.kind == "event"
                else "the sequence to finish"
            )
            result.steps.append(DryStep(current, f"would wait here for {what}", waits=True))
            result.ending = "waiting"
            return result
        elif node.kind in ("end", "exit"):
            result.steps.append(DryStep(current, "the run would end here"))
            result.ending = "completed" if node.kind == "end" else "exited"
            return result
        else:
            note = f"would run: {kind_get(node.kind).label.lower()}"
        result.steps.append(DryStep(current, note, branch=branch))
        current = graph.next(current, branch)
    result.ending = "completed"
    return result
