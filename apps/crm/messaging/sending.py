"""Sending the outbox: claim one queued email under a lease, send it through Django's email
backend, finish it (guarded by the lease token); the reaper re-queues what a dead worker
held, marked *uncertain* (the SMTP server may already have it), so nothing is lost and a
possible duplicate is visible. The claim, the guarded finish, backoff and the error's length
are the shared lease primitive's (``apps/core/outbox.py``): a sender that stalled past its
lease finds the email handed on, records nothing and logs that it lost the lease."""

import re
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import F, Q
from django.utils import timezone

from apps.core import oncommit
from apps.core.leases import LeaseKind, lease_kind_register, leases_reap_one
from apps.core.outbox import backoff, error_text, lease_claim, lease_finish

from .. import lock_objects
from ..link_tracking import tracked_html
from ..models import EmailMessage, EmailStatus, SubscriberState
from .outbox import sender_kick

EMAIL_LEASE = timedelta(seconds=settings.EMAIL_LEASE_SECONDS)
EMAIL_MAX_ATTEMPTS = 5
EMAIL_RETRY_BASE = timedelta(minutes=1)
EMAIL_SEND_BATCH = 200

_URL = re.compile(r"(https?://[^/\s]+)/\S*")


def link_redact(body: str) -> str:
    """The body with every link cut to its origin (what the outbox keeps once a one-time
    link has gone out)."""
    return _URL.sub(r"\1/… (one-time link, removed once sent)", body)


EMAILS_LEASE_KIND = "emails"


def email_claim_next(*, now=None) -> tuple[EmailMessage, int] | None:
    """Claim the oldest due email under a lease: (the message, its lease token), or None."""
    now = now or timezone.now()
    claimed = lease_claim(
        EMAILS_LEASE_KIND, lock_objects.email_queued_due(now=now), limit=1, now=now
    )
    if not claimed:
        return None
    ((pk, token),) = claimed
    return EmailMessage.objects.select_related("subscriber").get(pk=pk), token


def emails_reap(*, now=None) -> int:
    """Messages whose sender died mid-send (or whose lease ran out) go back to the queue."""
    return leases_reap_one(EMAILS_LEASE_KIND, now=now)


def _emails_free(ids: list[int], reason: str, counted: bool) -> int:
    """The SMTP server may or may not have these: send again (never lose one) and mark them
    uncertain (a duplicate is possible)."""
    freed = EmailMessage.objects.filter(pk__in=ids).update(
        status=EmailStatus.QUEUED,
        uncertain=True,
        next_attempt_at=timezone.now(),
        locked_until=None,
        lease_holder="",
    )
    oncommit.on_commit_once(sender_kick)
    return freed


lease_kind_register(
    LeaseKind(
        name=EMAILS_LEASE_KIND,
        model=EmailMessage,
        leased=Q(status=EmailStatus.SENDING),
        free=_emails_free,
        lease=EMAIL_LEASE,
        claimed={"status": EmailStatus.SENDING},
    )
)


def _suppressed(message: EmailMessage) -> str:
    """Why this email must not go out now ("" if it may)."""
    state = message.subscriber.state
    if message.is_transactional:
        return ""
    if state in (SubscriberState.BOUNCED, SubscriberState.COMPLAINED):
        return f"subscriber is {state}"
    if state == SubscriberState.CANCELLED:
        if message.is_marketing:
            return "subscriber unsubscribed"
        if not message.subscriber.keep_purchase_emails:
            return "subscriber unsubscribed from everything, purchase emails included"
    return ""


def _finish(message_id: int, token: int, **fields) -> bool:
    """Record a send under the lease; a sender that lost it (it stalled, and the email was
    handed on) writes nothing."""
    return lease_finish(EMAILS_LEASE_KIND, message_id, token, **fields)


def _mail(message: EmailMessage, connection) -> EmailMultiAlternatives:
    """The stored message as it goes out: text part, HTML part when it has one, and on bulk
    mail the RFC 8058 one-click unsubscribe headers (Gmail and Yahoo require them of bulk
    senders). Transactional mail carries none of them."""
    from ..preferences import unsubscribe_url

    headers = {"X-Tessera-Email": str(message.pk)}
    if message.is_bulk:
        headers["List-Unsubscribe"] = f"<{unsubscribe_url(message.subscriber)}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        to=[message.to_email],
        from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
        connection=connection,
        headers=headers,
    )
    if message.body_html:
        email.attach_alternative(tracked_html(message), "text/html")
    # A provider through anymail sends this back with each tracking event; other backends
    # ignore the attribute.
    email.metadata = {"tessera_email": str(message.pk)}
    return email


def _provider_message_id(email) -> str:
    """The provider's id for a sent email (anymail backends), else ""."""
    status = getattr(email, "anymail_status", None)
    return str(getattr(status, "message_id", None) or "")[:255]


def emails_send(*, now=None, limit: int = EMAIL_SEND_BATCH) -> int:
    """Claim and send queued emails one at a time over one SMTP connection."""
    emails_reap(now=now)
    sent = 0
    connection = None
    try:
        for _ in range(limit):
            claimed = email_claim_next(now=now)
            if claimed is None:
                break
            message, token = claimed
            reason = _suppressed(message)
            if reason:
                _finish(message.pk, token, status=EmailStatus.SUPPRESSED, error=reason)
                continue
            if connection is None:
                connection = get_connection()
                connection.open()
            email = _mail(message, connection)
            try:
                email.send()
            except Exception as exc:  # an SMTP or network failure: retry with backoff
                attempts = message.attempts + 1
                failed = attempts >= EMAIL_MAX_ATTEMPTS
                _finish(
                    message.pk,
                    token,
                    attempts=F("attempts") + 1,
                    error=error_text(exc),
                    status=EmailStatus.FAILED if failed else EmailStatus.QUEUED,
                    next_attempt_at=None
                    if failed
                    else timezone.now() + backoff(attempts=attempts, base=EMAIL_RETRY_BASE),
                )
                connection = None
                continue
            won = _finish(
                message.pk,
                token,
                status=EmailStatus.SENT,
                sent_at=timezone.now(),
                attempts=F("attempts") + 1,
                error="",
                provider_message_id=_provider_message_id(email),
                **(
                    {"body_text": link_redact(message.body_text)}
                    if message.has_one_time_link
                    else {}
                ),
            )
            sent += won
    finally:
        if connection is not None:
            connection.close()
    return sent
