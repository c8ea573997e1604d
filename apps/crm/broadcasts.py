"""Broadcast verbs the admin's review page uses: schedule, unschedule, send now, send a test.

Scheduling only marks the row (status ``scheduled``, ``send_at``): the beat task
``broadcasts_send_due`` sends it when due, the same path a v3 ``POST /v3/broadcasts`` with
``send_at`` takes. Every verb re-checks the sender against the allowed sending domains, so
a sender typed before the domains changed cannot slip out.
"""

import uuid
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core import oncommit
from apps.core.doorbell import doorbell_ring

from .email_html import sender_check
from .emails import broadcast_send, email_preview
from .models import (
    Broadcast,
    BroadcastStatus,
    EmailKind,
    EmailMessage,
    Subscriber,
)


def _kick_sender() -> None:
    from .tasks import emails_send

    doorbell_ring(emails_send)


UNSENT = (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)
TEST_SUBJECT_PREFIX = "[Test] "


def _sendable(broadcast: Broadcast) -> None:
    if broadcast.status not in UNSENT:
        raise ValidationError("This broadcast was already sent; a sent broadcast is read-only.")
    if not broadcast.subject.strip():
        raise ValidationError("Give the broadcast a subject before sending it.")
    problem = sender_check(broadcast.email_address)
    if problem:
        raise ValidationError(f"Sender: {problem}")


@transaction.atomic
def broadcast_schedule(*, broadcast: Broadcast, send_at: datetime) -> Broadcast:
    """Mark the broadcast to go out at ``send_at`` (a future time); the due sweep sends it."""
    _sendable(broadcast)
    if send_at <= timezone.now():
        raise ValidationError("Pick a time in the future, or send it now.")
    updated = Broadcast.objects.filter(pk=broadcast.pk, status__in=UNSENT).update(
        status=BroadcastStatus.SCHEDULED, send_at=send_at
    )
    if not updated:
        raise ValidationError("This broadcast was sent meanwhile; nothing was changed.")
    broadcast.refresh_from_db()
    return broadcast


@transaction.atomic
def broadcast_unschedule(*, broadcast: Broadcast) -> Broadcast:
    """Back to a draft: a scheduled broadcast that has not gone out yet stays unsent."""
    updated = Broadcast.objects.filter(pk=broadcast.pk, status=BroadcastStatus.SCHEDULED).update(
        status=BroadcastStatus.DRAFT, send_at=None
    )
    if not updated:
        raise ValidationError("Only a scheduled broadcast that has not gone out can be stopped.")
    broadcast.refresh_from_db()
    return broadcast


def broadcast_send_now(*, broadcast: Broadcast) -> int:
    """Queue the broadcast to its audience now; returns how many emails were queued."""
    _sendable(broadcast)
    return broadcast_send(broadcast=broadcast)


def test_subscriber(*, email: str, broadcast: Broadcast) -> Subscriber | None:
    """Whose data fills the test's merge fields: the creator's own subscriber row if there is
    one, else the first subscriber the broadcast would reach, else anyone."""
    from .emails import broadcast_audience

    return (
        Subscriber.objects.filter(email__iexact=email).first()
        or broadcast_audience(broadcast).order_by("pk").first()
        or Subscriber.objects.order_by("pk").first()
    )


@transaction.atomic
def broadcast_test_send(*, broadcast: Broadcast, to_email: str) -> EmailMessage:
    """Mail the preview to the creator (``to_email``) through the outbox. It is rendered as
    the broadcast would be for one subscriber (``test_subscriber``), with their secrets
    redacted, and goes out as a transactional email: no List-Unsubscribe header naming that
    subscriber, not counted in the broadcast's report."""
    if not to_email:
        raise ValidationError("Your staff account has no email address; add one to get tests.")
    subscriber = test_subscriber(email=to_email, broadcast=broadcast)
    if subscriber is None:
        raise ValidationError("Add a subscriber first: the test fills merge fields with theirs.")
    rendered = email_preview(
        subject=broadcast.subject,
        body=broadcast.content,
        subscriber=subscriber,
        body_format=broadcast.body_format,
        layout=broadcast.layout,
        kind=EmailKind.BROADCAST,
    )
    if rendered["error"]:
        raise ValidationError(f"The email does not render: {rendered['error']}")
    message = EmailMessage.objects.create(
        subscriber=subscriber,
        key=f"broadcast-test:{broadcast.pk}:{uuid.uuid4().hex}",
        kind=EmailKind.SYSTEM,
        is_marketing=False,
        to_email=to_email,
        subject=(TEST_SUBJECT_PREFIX + rendered["subject"])[:255],
        body_text=rendered["body"],
        body_html=rendered["html"],
        from_email=broadcast.email_address or settings.DEFAULT_FROM_EMAIL,
        next_attempt_at=timezone.now(),
    )
    oncommit.on_commit_once(_kick_sender)
    return message
