from celery import shared_task

from . import services

DRIP_SWEEP_TASK = "offerings.drip_sweep"


@shared_task(name=DRIP_SWEEP_TASK, acks_late=True, ignore_result=True)
def drip_sweep() -> int:
    """Release modules whose time has come (beat, every few seconds)."""
    return services.drip_sweep()
