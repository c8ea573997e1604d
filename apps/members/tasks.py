from celery import shared_task

from apps.core.doorbell import doorbell_drain

from . import services

CALLS_PROCESS_TASK = "members.webhook_calls_process"


@shared_task(name=CALLS_PROCESS_TASK, acks_late=True, ignore_result=True)
def webhook_calls_process() -> int:
    """Rung after a call is accepted: run the accepted calls, a batch at a time."""
    return doorbell_drain(webhook_calls_process, services.webhook_calls_process)


@shared_task(name="members.webhook_call_process", acks_late=True, ignore_result=True)
def webhook_call_process(call_id: int) -> str:
    """One call (messages queued by releases before calls ran in batches)."""
    return services.webhook_call_process(call_id=call_id)


@shared_task(name="members.login_link_send", acks_late=True, ignore_result=True)
def login_link_send(email: str) -> bool:
    """Messages queued before login links went through the outbox: queue it there now."""
    return services.member_login_link_email(email=email)


CALLS_RESUME_TASK = "members.webhook_calls_resume_stuck"


@shared_task(name=CALLS_RESUME_TASK, acks_late=True, ignore_result=True)
def webhook_calls_resume_stuck() -> int:
    return services.webhook_calls_resume_stuck()
