"""Sales' periodic tasks (apps/core/periodic.py finds this module)."""

from apps.core.periodic import PeriodicSpec


def periodic_specs() -> list[PeriodicSpec]:
    from .tasks import EVENTS_SWEEP_TASK

    return [
        PeriodicSpec(
            name="commerce: process Stripe events left pending",
            task=EVENTS_SWEEP_TASK,
            every_seconds=60,
        )
    ]
