"""Reads for reports and the admin. Counts are live (no cache): each is one grouped query."""

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from .models import ACTIVE_RUN_STATUSES, Automation, Node, Run, RunStatus, RunStep, StepOutcome

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
