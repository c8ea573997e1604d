"""The offerings' periodic tasks (apps/core/periodic.py finds this module)."""

from django.conf import settings

from apps.core.periodic import PeriodicSpec


def periodic_specs() -> list[PeriodicSpec]:
    from .tasks import DRIP_SWEEP_TASK

    return [
        PeriodicSpec(
            name="offerings: release due modules (drip)",
            task=DRIP_SWEEP_TASK,
            every_seconds=settings.DRIP_SWEEP_SECONDS,
        )
    ]
