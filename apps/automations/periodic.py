"""The automations' periodic tasks (apps/core/periodic.py finds this module)."""

from django.conf import settings

from apps.core.periodic import PeriodicSpec


def periodic_specs() -> list[PeriodicSpec]:
    from .tasks import RUNS_SWEEP_TASK

    return [
        PeriodicSpec(
            name="automations: advance due runs",
            task=RUNS_SWEEP_TASK,
            every_seconds=settings.RUN_SWEEP_SECONDS,
        ),
    ]
