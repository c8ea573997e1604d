"""Automation runs on the subscriber's timeline (crm.timeline), each with the path it took."""

from django.db.models import Prefetch
from django.urls import reverse

from apps.crm.models import Subscriber
from apps.crm.timeline import TimelineEntry, TimelineStep

from .models import Run, RunStatus, RunStep


def automations_timeline(subscriber: Subscriber, limit: int) -> list[TimelineEntry]:
    """Two queries: the latest runs with their automation, then all their steps."""
    runs = (
        Run.objects.filter(subscriber=subscriber)
        .select_related("automation", "current_node")
        .prefetch_related(Prefetch("steps", queryset=RunStep.objects.order_by("seq")))
        .order_by("-id")[:limit]
    )
    entries = []
    for run in runs:
        where = f" at {run.current_node}" if run.current_node and run.status == "waiting" else ""
        entries.append(
            TimelineEntry(
                at=run.started_at,
                kind="run",
                title=f"Automation {run.automation.name!r} (entry {run.entry_number})",
                detail=f"{run.get_status_display()}{where}"
                + (f": {run.last_error}" if run.last_error else ""),
                url=reverse("admin:automations_run_change", args=[run.pk]),
                failed=run.status == RunStatus.FAILED,
                steps=tuple(
                    TimelineStep(
                        label=step.node_label or step.node_kind,
                        kind=step.node_kind,
                        outcome=step.get_outcome_display(),
                        at=step.at,
                        branch=step.branch,
                        detail=step.detail,
                        error=step.error,
                    )
                    for step in run.steps.all()
                ),
            )
        )
    return entries
