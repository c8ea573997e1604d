"""Lock querysets for runs, in one place and one order (by primary key or due time)."""

from datetime import datetime

from django.db.models import QuerySet

from apps.core.outbox import rows_claim

from .models import Run, RunStatus


def runs_due(*, now: datetime, automation_id: int, limit: int) -> QuerySet[Run]:
    """One automation's due runs, oldest first, locked for a claim (SKIP LOCKED)."""
    return rows_claim(
        Run.objects.filter(
            status=RunStatus.WAITING,
            resume_at__isnull=False,
            resume_at__lte=now,
            automation_id=automation_id,
        )
        .order_by("resume_at", "pk")
        .values_list("pk", flat=True),
        limit=limit,
    )


def run_for_advance(*, run_id: int) -> QuerySet[Run]:
    return (
        Run.objects.filter(pk=run_id)
        .select_related("automation", "subscriber")
        .select_for_update(of=("self",))
    )


def runs_for_advance(*, run_ids: list[int]) -> QuerySet[Run]:
    return (
        Run.objects.filter(pk__in=run_ids)
        .select_related("automation", "subscriber")
        .order_by("pk")
        .select_for_update(of=("self",))
    )


def runs_active_of(*, subscriber_ids, automation_ids=None) -> QuerySet[Run]:
    queryset = Run.objects.filter(
        subscriber_id__in=list(subscriber_ids), status__in=["waiting", "running"]
    )
    if automation_ids is not None:
        queryset = queryset.filter(automation_id__in=list(automation_ids))
    # of=self: callers join the (nullable) current step, which PostgreSQL cannot lock.
    return queryset.order_by("pk").select_for_update(of=("self",))


def runs_active_by_id(*, run_ids) -> QuerySet[Run]:
    return (
        Run.objects.filter(pk__in=list(run_ids), status__in=["waiting", "running"])
        .order_by("pk")
        .select_for_update(of=("self",))
    )


def runs_at_nodes(*, node_ids) -> QuerySet[Run]:
    """Active runs standing at these steps, with their step (a step deletion moves them)."""
    return (
        Run.objects.filter(current_node_id__in=list(node_ids), status__in=["waiting", "running"])
        .select_related("current_node")
        .order_by("pk")
        .select_for_update(of=("self",))
    )
