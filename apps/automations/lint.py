"""Lint: what in a flow is likely a mistake, said on the card it concerns.

The lint is a list of small rules over one ``LintContext``; each kind adds its own rules
(``NodeKind.lint_rules``, run on each step of that kind). A fixed number of queries whatever
the size of the flow: who adds the tags (the tag map's registry of uses, plus forms), the
offerings' facts, and the names of the tags involved, all read once by the context.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from apps.tags.dependents import Role, tag_uses_all
from apps.tags.event_types import TAG_ADD, TAG_REMOVE

from .facts import OfferingFacts, offering_facts_all
from .graph import Graph


@dataclass(frozen=True)
class LintMessage:
    """``node_id`` (or ``trigger_id``) names the card; neither: the automation as a whole."""

    text: str
    node_id: int | None = None
    trigger_id: int | None = None


@dataclass
class LintContext:
    """What the rules read, computed once per lint."""

    graph: Graph
    nodes: list
    triggers: list
    # tag id -> the cards that need someone else to add it: ("node" | "trigger", pk).
    needed: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    flow_tags: set[int] = field(default_factory=set)
    entry_tags: set[int] = field(default_factory=set)
    removed: set[int] = field(default_factory=set)
    adders: set[int] = field(default_factory=set)
    names: dict[int, str] = field(default_factory=dict)
    offerings: list[OfferingFacts] = field(default_factory=list)
    release_tags: dict[int, str] = field(default_factory=dict)

    def name(self, tag_id):
        return self.names.get(tag_id, tag_id)


def lint_context(*, graph: Graph, triggers) -> LintContext:
    from .kinds import kind_get

    ctx = LintContext(graph=graph, nodes=list(graph.walk()), triggers=list(triggers))
    for trigger in ctx.triggers:
        if trigger.tag_id and trigger.event_type in (TAG_ADD, TAG_REMOVE):
            ctx.needed.setdefault(trigger.tag_id, []).append(("trigger", trigger.pk))
        if trigger.tag_id and trigger.event_type == TAG_ADD:
            ctx.entry_tags.add(trigger.tag_id)
    for node in ctx.nodes:
        kind = kind_get(node.kind)
        for tag_id in kind.tags_needed(node.settings):
            ctx.needed.setdefault(tag_id, []).append(("node", node.pk))
        used = kind.tags_used(node.settings)
        ctx.flow_tags |= used
        if kind.tag_role == Role.REMOVES:
            ctx.removed |= used
    ctx.flow_tags |= set(ctx.needed)
    # Every registered finder's "adds": steps, forms, lessons, offerings, webhook operations.
    uses = tag_uses_all(tag_ids=set(ctx.needed))
    ctx.adders = {u.tag_id for u in uses if u.role == Role.ADDS}
    ctx.names = _tag_names(ctx.flow_tags)
    ctx.offerings = offering_facts_all()
    # An offering's convention tags (purchase success, instant access...) are there to be
    # added: by the offering itself, a checkout or an admin.
    for offering in ctx.offerings:
        ctx.adders |= offering.tag_ids
    ctx.release_tags = {
        tag_id: offering.name
        for offering in ctx.offerings
        for tag_id in offering.webhook_tags.get("release", {})
    }
    return ctx


def _tag_names(tag_ids: set[int]) -> dict[int, str]:
    from apps.tags.models import Tag

    return dict(Tag.objects.filter(pk__in=tag_ids).values_list("pk", "name"))


# The rules ------------------------------------------------------------------------------------

Rule = Callable[[LintContext], Iterable[LintMessage]]


def rule_nothing_adds_the_tag(ctx: LintContext) -> Iterable[LintMessage]:
    for tag_id, places in ctx.needed.items():
        if tag_id in ctx.adders:
            continue
        for where, pk in places:
            yield LintMessage(
                f"Nothing adds the tag {ctx.name(tag_id)!r} (no automation step, "
                "form, offering or webhook operation): only a tag added by hand or "
                "through the API can match here.",
                node_id=pk if where == "node" else None,
                trigger_id=pk if where == "trigger" else None,
            )


def rule_kinds_own(ctx: LintContext) -> Iterable[LintMessage]:
    """Each kind's own rules, on each step of that kind (kinds in key order)."""
    from .kinds import kinds_all

    steps_of: dict[str, list] = {}
    for node in ctx.nodes:
        steps_of.setdefault(node.kind, []).append(node)
    for registered in kinds_all():
        for node in steps_of.get(registered.key, []):
            for rule in registered.lint_rules:
                yield from rule(node, ctx)


def rule_never_reached(ctx: LintContext) -> Iterable[LintMessage]:
    from .kinds import kind_get

    for lane in ctx.graph.lanes.values():
        final = None
        for node_id in lane:
            kind = kind_get(ctx.graph.nodes[node_id].kind)
            if final is not None:
                yield LintMessage(
                    f"Never reached: it comes after the {final} step on the same path. "
                    "Move it above, or delete it.",
                    node_id=node_id,
                )
            elif kind.final:
                final = getattr(kind, "final_name", "") or kind.label


RULES: list[Rule] = [rule_nothing_adds_the_tag, rule_kinds_own, rule_never_reached]


def automation_lint(*, graph: Graph, triggers) -> list[LintMessage]:
    ctx = lint_context(graph=graph, triggers=triggers)
    return [message for rule in RULES for message in rule(ctx)]
