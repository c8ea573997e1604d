from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext as _

from config.doorbell import doorbell_drain

from . import services
from .models import Member

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
def login_link_send(email: str, language: str | None = None) -> bool:
    """Email a one-time login link, if a member has this address (the page never says), in
    the language of the page it was asked from."""
    member = (
        Member.objects.select_related("user")
        .filter(user__email=email, user__is_active=True, user__is_staff=False)
        .first()
    )
    if member is None:
        return False
    with translation.override(language or settings.LANGUAGE_CODE):
        name = member.subscriber.first_name or _("there")
        send_mail(
            subject=_("Your login link"),
            message=_(
                "Hello %(name)s,\n\nOpen this link to log in (it works once):\n%(link)s\n\n"
                "If you did not ask for it, ignore this email.\n"
            )
            % {"name": name, "link": services.member_login_link_url(member)},
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[member.user.email],
        )
    return True


@shared_task(name="members.email_change_send", acks_late=True, ignore_result=True)
def email_change_send(email: str, link: str, language: str | None = None) -> None:
    with translation.override(language or settings.LANGUAGE_CODE):
        send_mail(
            subject=_("Confirm your new email address"),
            message=_(
                "Open this link to use %(email)s for your account:\n%(link)s\n\n"
                "If you did not ask for this, ignore this email."
            )
            % {"email": email, "link": link},
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
        )


CALLS_RESUME_TASK = "members.webhook_calls_resume_stuck"


@shared_task(name=CALLS_RESUME_TASK, acks_late=True, ignore_result=True)
def webhook_calls_resume_stuck() -> int:
    return services.webhook_calls_resume_stuck()
