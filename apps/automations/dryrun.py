"""Dry run: the path a run would take now, for a subscriber or for typed tags and fields,
with no side effect at all (nothing is written; tags a step would add are only remembered
for the conditions further down).

Delays are passed through ("would wait 2 days here"); a step that waits for something to
happen (an event, a sequence) is where the dry run stops, shown as waiting.
"""

from dataclasses import dataclass, field

from apps.crm.models import SubscriberFieldValue
from apps.tags.models import Tag, Tagging

from .graph import Graph
from .kinds import DryState, kind_get

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


def automation_dry_run(*, graph: Graph, tag_ids: set[int], fields: dict[str, str]) -> DryRun:
    """Walk the flow from its first step as the engine would for someone holding ``tag_ids``
    and ``fields`` now: each step's kind says what it would do (``NodeKind.dry_run``)."""
    mentioned: set[int] = set()
    for node in graph.nodes.values():
        mentioned |= kind_get(node.kind).tags_used(node.settings)
    names = dict(Tag.objects.filter(pk__in=mentioned).values_list("pk", "name"))
    state = DryState(tag_ids=set(tag_ids), fields=dict(fields), names=names)
    result = DryRun()
    current = graph.first()
    while current is not None and len(result.steps) < DRY_RUN_MAX_STEPS:
        node = graph.nodes[current]
        said = kind_get(node.kind).dry_run(node.settings, state)
        if said.ending:
            result.steps.append(DryStep(current, said.note, waits=said.waits))
            result.ending = said.ending
            return result
        result.steps.append(DryStep(current, said.note, branch=said.branch))
        current = graph.next(current, said.branch)
    result.ending = "completed"
    return result
