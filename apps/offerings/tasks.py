from celery import shared_task
from django.conf import settings

from . import services

DRIP_SWEEP_TASK = "offerings.drip_sweep"


@shared_task(name=DRIP_SWEEP_TASK, acks_late=True, ignore_result=True)
def drip_sweep() -> int:
    """Release modules whose time has come (beat, every few seconds)."""
    return services.drip_sweep()


def periodic_specs():
    from apps.core.periodic import PeriodicSpec

    return [
        PeriodicSpec(
            name="offerings: release due modules (drip)",
            task=DRIP_SWEEP_TASK,
            every_seconds=settings.DRIP_SWEEP_SECONDS,
        )
    ]
