"""Broadcasts: their audience (the tags compiler's condition, counted live for the admin's
builder), queue one to it (now or when due), schedule, a test to the creator, and stats.

Scheduling only marks the row (status ``scheduled``, ``send_at``): the beat task
``broadcasts_send_due`` sends it when due, the same path a v3 ``POST /v3/broadcasts`` with
``send_at`` takes. Every verb re-checks the sender against the allowed sending domains, so a
sender typed before the domains changed cannot slip out.
"""

import uuid
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core import oncommit

from .. import lock_objects
from ..email_html import sender_check
from ..models import (
    Broadcast,
    BroadcastStatus,
    EmailKind,
    EmailMessage,
    EmailStatus,
    Subscriber,
    SubscriberState,
)
from .outbox import BROADCAST_CHUNK, emails_enqueue, sender_kick
from .rendering import Draft, email_preview

UNSENT = (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)
TEST_SUBJECT_PREFIX = "[Test] "


def broadcast_audience(broadcast: Broadcast):
    from apps.tags.conditions import subscribers_matching  # crm's messaging may use the compiler

    audience = Subscriber.objects.filter(state=SubscriberState.ACTIVE, broadcasts_opted_out=False)
    if broadcast.condition:
        audience = subscribers_matching(broadcast.condition, audience)
    return audience


def audience_count(condition: dict | None) -> int:
    """How many subscribers a broadcast with this audience would reach now (the active ones
    who take broadcasts and match): one COUNT query."""
    return broadcast_audience(Broadcast(condition=condition)).count()


def audience_condition_check(condition) -> None:
    """Raise ValidationError saying what is wrong with an audience condition."""
    from apps.tags.conditions import ConditionError, condition_validate

    try:
        condition_validate(condition)
    except ConditionError as exc:
        raise ValidationError(f"The audience is not complete: {exc}") from None


def audience_tag_choices() -> list[tuple[int, str]]:
    """The tags an audience may name, (id, name) by name."""
    from apps.tags.conditions import condition_tag_choices

    return condition_tag_choices()


@transaction.atomic
def broadcast_send(*, broadcast: Broadcast) -> int:
    """Queue the broadcast to its audience now (in chunks); sending it twice sends nothing
    more. Returns how many emails it queued."""
    broadcast = lock_objects.broadcast(pk=broadcast.pk)
    if broadcast.status in (BroadcastStatus.SENDING, BroadcastStatus.COMPLETED):
        return 0
    broadcast.status = BroadcastStatus.SENDING
    broadcast.save(update_fields=["status"])
    queued = 0
    audience = broadcast_audience(broadcast).order_by("pk")
    last = 0
    while True:
        chunk = list(audience.filter(pk__gt=last)[:BROADCAST_CHUNK])
        if not chunk:
            break
        queued += emails_enqueue(
            [
                Draft(
                    subscriber=s,
                    key=f"broadcast:{broadcast.pk}:{s.pk}",
                    kind=EmailKind.BROADCAST,
                    subject=broadcast.subject,
                    body=broadcast.content,
                    broadcast=broadcast,
                    body_format=broadcast.body_format,
                    layout=broadcast.layout,
                    track_clicks=broadcast.track_clicks,
                    track_opens=broadcast.track_opens,
                    from_email=broadcast.email_address,
                )
                for s in chunk
            ]
        )
        last = chunk[-1].pk
    broadcast.status, broadcast.published_at = BroadcastStatus.COMPLETED, timezone.now()
    broadcast.save(update_fields=["status", "published_at"])
    return queued


def broadcasts_send_due(*, now=None) -> int:
    now = now or timezone.now()
    due = Broadcast.objects.filter(status=BroadcastStatus.SCHEDULED, send_at__lte=now)
    return sum(broadcast_send(broadcast=b) for b in due)


def broadcast_stats(broadcast: Broadcast) -> dict:
    """Kit's v3 broadcast stats, from what was sent and what became of it."""
    from ..tracking import email_report

    messages = EmailMessage.objects.filter(broadcast=broadcast)
    report = email_report(messages)
    recipients = report["recipients"]
    queued = messages.filter(status__in=[EmailStatus.QUEUED, EmailStatus.SENDING]).exists()

    def rate(count: int) -> float:
        return round(100.0 * count / recipients, 2) if recipients else 0.0

    return {
        "recipients": recipients,
        "open_rate": rate(report["unique_opens"]),
        "click_rate": rate(report["unique_clicks"]),
        "unsubscribes": report["unsubscribes"],
        "total_clicks": report["clicks"],
        "show_total_clicks": True,
        "status": broadcast.status,
        "progress": 100.0 if recipients and not queued else 0.0,
    }


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
    oncommit.on_commit_once(sender_kick)
    return message
