"""Reads for reports and the admin. Counts are live (no cache): each is one grouped query."""

from collections import defaultdict

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from apps.crm.event_types import FIELD_VALUE_UPDATED

from .kinds import kind_get
from .models import (
    ACTIVE_RUN_STATUSES,
    Automation,
    AutomationStatus,
    Node,
    Run,
    RunStatus,
    RunStep,
    StepOutcome,
    Trigger,
)

PASSED_OUTCOMES = (
    StepOutcome.PASSED,
    StepOutcome.HELD,
    StepOutcome.BRANCHED,
    StepOutcome.COMPLETED,
    StepOutcome.EXITED,
)


def automations_with_counts() -> QuerySet[Automation]:
    """Entered, active, completed, exited and failed runs per automation, in one query."""
    return Automation.objects.annotate(
        entered=Count("runs"),
        active=Count("runs", filter=Q(runs__status__in=ACTIVE_RUN_STATUSES)),
        completed=Count("runs", filter=Q(runs__status=RunStatus.COMPLETED)),
        exited=Count("runs", filter=Q(runs__status=RunStatus.EXITED)),
        failed=Count("runs", filter=Q(runs__status=RunStatus.FAILED)),
    )


def _count_per_node(queryset, node_field: str) -> Coalesce:
    """A correlated COUNT(*) (subqueries, so two counts never multiply each other's rows)."""
    grouped = queryset.order_by().values(node_field).annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(grouped, output_field=IntegerField()), Value(0))


def nodes_with_counts(automation: Automation) -> QuerySet[Node]:
    return nodes_annotate_counts(Node.objects.filter(automation=automation))


def nodes_annotate_counts(queryset: QuerySet[Node]) -> QuerySet[Node]:
    """Each step with how many runs stand there now and how many have passed it."""
    return queryset.annotate(
        waiting_here=_count_per_node(
            Run.objects.filter(current_node=OuterRef("pk"), status__in=ACTIVE_RUN_STATUSES),
            "current_node",
        ),
        passed=_count_per_node(
            RunStep.objects.filter(node=OuterRef("pk"), outcome__in=PASSED_OUTCOMES), "node"
        ),
    )


def _automation_links() -> dict[int, dict[str, set]]:
    """Per automation that can run (live or paused): what moves someone in it (tags, fields),
    what it adds (tags, fields, other automations started) and which fields it reads. Two
    queries; the settings are read here (they live in each step's JSON)."""
    running = [AutomationStatus.LIVE, AutomationStatus.PAUSED]
    links: dict[int, dict[str, set]] = defaultdict(
        lambda: {key: set() for key in ("in_tags", "in_fields", "adds", "sets", "starts", "reads")}
    )
    for automation_id, event_type, tag_id, params in Trigger.objects.filter(
        automation__status__in=running
    ).values_list("automation_id", "event_type", "tag_id", "params"):
        link = links[automation_id]
        if tag_id:
            link["in_tags"].add(tag_id)
        if event_type == FIELD_VALUE_UPDATED and (params or {}).get("field_key"):
            link["in_fields"].add(params["field_key"])
            link["reads"].add(params["field_key"])
    for automation_id, kind_key, settings in Node.objects.filter(
        automation__status__in=running
    ).values_list("automation_id", "kind", "settings"):
        kind_get(kind_key).chain_links(settings or {}, links[automation_id])
    return links


def _reach(links, *, automation_ids: set[int], tag_ids: set[int], field_keys: set[str]):
    """Follow the chain to its end: the automations these tags and fields move people into,
    the tags and fields those add, the automations they start, and so on (a fixed point)."""
    tags, fields, reached = set(tag_ids), set(field_keys), set(automation_ids)
    while True:
        for a in reached:
            tags |= links[a]["adds"] - {None}
            fields |= links[a]["sets"] - {None}
        more = {
            a
            for a, link in links.items()
            if a not in reached and (link["in_tags"] & tags or link["in_fields"] & fields)
        }
        more |= {s for a in reached for s in links[a]["starts"] if s in links} - reached
        if not more:
            return tags, fields, reached
        reached |= more


def automation_chain_tags(*, tag_ids: set[int], field_keys: set[str]) -> set[int]:
    """Every tag that adding ``tag_ids`` and setting ``field_keys`` can lead to through
    automations (which add tags, set fields and start one another), the given tags included."""
    tags, _, _ = _reach(
        _automation_links(), automation_ids=set(), tag_ids=tag_ids, field_keys=field_keys
    )
    return tags


def fields_read_toward(*, tag_ids: set[int]) -> set[str]:
    """The custom fields read (entry, condition, delay date) by automations whose chain can
    add one of ``tag_ids``: writing one may change who gets those tags, or when."""
    links = _automation_links()
    keys: set[str] = set()
    for automation_id, link in links.items():
        tags, _, _ = _reach(links, automation_ids={automation_id}, tag_ids=set(), field_keys=set())
        if tags & tag_ids:
            keys |= link["reads"]
    return keys
