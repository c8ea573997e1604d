from celery import shared_task

from . import leases

LEASES_REAP_TASK = "core.leases_reap"


@shared_task(name=LEASES_REAP_TASK, acks_late=True, ignore_result=True)
def leases_reap() -> int:
    """Beat's reaper: hand on what dead workers, run-out leases and a flushed broker left."""
    return leases.leases_reap()
