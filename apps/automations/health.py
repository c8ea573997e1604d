"""The automation engine's figures for the admin index's health block (crm.health)."""

from datetime import datetime

from apps.crm.health import HealthItem, admin_list_url, seconds_shown

from .engine import engine_health

# A due run later than this means the run sweep is behind (or beat is not running).
RUN_LAG_WARN_SECONDS = 60


def automations_health(now: datetime) -> list[HealthItem]:
    health = engine_health(now=now)
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
    ]
