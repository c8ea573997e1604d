from celery import shared_task

from apps.core.doorbell import doorbell_drain

from . import stripe_events

EVENTS_PROCESS_TASK = "commerce.stripe_events_process"
EVENTS_SWEEP_TASK = "commerce.stripe_events_resume_stuck"


@shared_task(name=EVENTS_PROCESS_TASK, acks_late=True, ignore_result=True)
def stripe_events_process() -> int:
    """Rung after an event is stored: process pending events, a batch at a time."""
    return doorbell_drain(stripe_events_process, stripe_events.stripe_events_process)


@shared_task(name=EVENTS_SWEEP_TASK, acks_late=True, ignore_result=True)
def stripe_events_resume_stuck() -> int:
    return stripe_events.stripe_events_resume_stuck()
