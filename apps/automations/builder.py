"""The visual builder's model: the flow as nested lanes of cards, each with its live counts,
lint messages, edit form and dry-run mark. Each card's form, summary and the reading of its
submitted form belong to the step's kind (``kinds/``); every write goes through ``services``
(the views only call them).

A fixed number of queries whatever the number of steps.
"""

from dataclasses import dataclass, field

from apps.crm.event_types import event_types_all
from apps.crm.models import CustomField, Sequence
from apps.tags.models import Tag

from .dryrun import DryRun
from .graph import BRANCHES, Graph
from .kinds import Field, kind_get, kinds_all, kinds_where
from .kinds.event_spec import place_choices
from .lint import LintMessage
from .models import Automation, Run, RunStatus

TAG_CHOICES_MAX = 2000
TEST_RUNS_SHOWN = 50


def kind_fields(kind_key: str, settings: dict, ctx: dict) -> list[Field]:
    """The edit form of a step of ``kind_key``, filled from ``settings`` (the kind's own)."""
    return kind_get(kind_key).form_fields(settings, ctx)


def node_summary(node, ctx: dict) -> str:
    return kind_get(node.kind).summary(node.settings, ctx)


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
    }


def tag_names_for(graph: Graph, triggers, ctx: dict) -> None:
    """Add the flow's own tags to ``ctx['tag_names']`` if the choice list was cut short."""
    wanted = {t.tag_id for t in triggers if t.tag_id}
    for node in graph.nodes.values():
        wanted |= kind_get(node.kind).tags_used(node.settings)
    missing = wanted - set(ctx["tag_names"])
    if missing:
        ctx["tag_names"].update(Tag.objects.filter(pk__in=missing).values_list("pk", "name"))


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
            if kind_get(node.kind).has_branches:
                card.yes, card.no = (lane(node_id, branch) for branch in BRANCHES)
            below = [graph.nodes[n] for n in graph.below(node_id)]
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


def test_runs_waiting(automation: Automation) -> list[Run]:
    """Test subscribers' runs waiting on a delay in this automation (for "skip this wait")."""
    return list(
        Run.objects.filter(
            automation=automation,
            status=RunStatus.WAITING,
            arrived=True,
            subscriber__is_test=True,
            current_node__kind__in=kinds_where(lambda k: k.skippable_wait),
        )
        .select_related("subscriber")
        .order_by("resume_at", "pk")[:TEST_RUNS_SHOWN]
    )
