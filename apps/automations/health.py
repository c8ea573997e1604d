"""The automation engine's figures for the admin index's health block (crm.health)."""

from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.db.models import Q

from apps.crm.health import HealthItem, admin_list_url, seconds_shown

from .engine import _label, engine_health
from .models import Automation, Run, RunStatus

# A due run later than this means the run sweep is behind (or beat is not running).
RUN_LAG_WARN_SECONDS = 60


def runs_waiting_too_long(*, now: datetime) -> tuple[int, Run | None]:
    """Runs waiting at one step longer than their automation's ``wait_warn_days`` (the
    creator's limit), and the one that has waited longest. Two queries: the limits, then one
    count and one row over the waiting runs of those automations."""
    limits = dict(
        Automation.objects.filter(wait_warn_days__isnull=False).values_list("pk", "wait_warn_days")
    )
    if not limits:
        return 0, None
    late = reduce(
        or_,
        (
            Q(automation_id=pk, node_arrived_at__lt=now - timedelta(days=days))
            for pk, days in limits.items()
        ),
    )
    waiting = Run.objects.filter(late, status=RunStatus.WAITING, arrived=True)
    oldest = waiting.select_related("automation", "subscriber", "current_node").order_by(
        "node_arrived_at"
    )
    return waiting.count(), oldest.first()


def automations_health(now: datetime) -> list[HealthItem]:
    health = engine_health(now=now)
    late, oldest = runs_waiting_too_long(now=now)
    return [
        HealthItem(
            label="Run sweep lag (oldest due run)",
            value=f"{seconds_shown(health['lag_seconds'])} · {health['due']} due",
            ok=health["lag_seconds"] < RUN_LAG_WARN_SECONDS,
            url=admin_list_url("automations_run", status__exact="waiting"),
            permission="automations.view_run",
            hint="Due runs wait for beat's sweep and a worker.",
        ),
        HealthItem(
            label="Stuck runs (lease expired)",
            value=str(health["stuck"]),
            ok=health["stuck"] == 0,
            url=admin_list_url("automations_run", status__exact="running"),
            permission="automations.view_run",
            hint="The reaper hands them on; manage.py resume_stuck does it now.",
        ),
        HealthItem(
            label="Runs waiting longer than their automation allows",
            value=str(late)
            + (
                f" · longest: {oldest.subscriber.email} at {_label(oldest.current_node)} "
                f"in {oldest.automation.name!r} since {oldest.node_arrived_at:%Y-%m-%d}"
                if oldest
                else ""
            ),
            ok=late == 0,
            url=admin_list_url("automations_run", status__exact="waiting"),
            permission="automations.view_run",
            hint="Set the limit on the automation (Warn after days); an event step's timeout "
            "moves such runs on by itself.",
        ),
    ]
