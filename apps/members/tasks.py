from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from config.doorbell import doorbell_drain

from . import services
from .models import Member
from .tokens import LOGIN_LINK_MAX_AGE

CALLS_PROCESS_TASK = "members.webhook_calls_process"
LINK_MINUTES = int(LOGIN_LINK_MAX_AGE.total_seconds() // 60)


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
    """Email a one-time login link, if a member has this address (the page never says)."""
    member = (
        Member.objects.select_related("user")
        .filter(user__email=email, user__is_active=True, user__is_staff=False)
        .first()
    )
    if member is None:
        return False
    send_mail(
        subject="Your login link",
        message=(
            f"Hello {member.subscriber.first_name or 'there'},\n\n"
            f"Open this link to log in (it works once, within {LINK_MINUTES} minutes):\n"
            f"{services.member_login_link_url(member)}"
            f"\n\nIf you did not ask for it, ignore this email.\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[member.user.email],
    )
    return True


@shared_task(name="members.email_change_send", acks_late=True, ignore_result=True)
def email_change_send(email: str, link: str) -> None:
    send_mail(
        subject="Confirm your new email address",
        message=f"Open this link to use {email} for your account:\n{link}\n\n"
        "If you did not ask for this, ignore this email.",
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[email],
    )


CALLS_RESUME_TASK = "members.webhook_calls_resume_stuck"


@shared_task(name=CALLS_RESUME_TASK, acks_late=True, ignore_result=True)
def webhook_calls_resume_stuck() -> int:
    return services.webhook_calls_resume_stuck()
