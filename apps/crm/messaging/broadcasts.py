"""Broadcasts: queue one to its audience (now or when due), and its stats."""

from django.db import transaction
from django.utils import timezone

from .. import lock_objects
from ..models import (
    Broadcast,
    BroadcastStatus,
    EmailKind,
    EmailMessage,
    EmailStatus,
    Subscriber,
    SubscriberState,
)
from .outbox import BROADCAST_CHUNK, emails_enqueue
from .rendering import Draft


def broadcast_audience(broadcast: Broadcast):
    from apps.tags.conditions import subscribers_matching  # crm's messaging may use the compiler

    audience = Subscriber.objects.filter(state=SubscriberState.ACTIVE, broadcasts_opted_out=False)
    if broadcast.condition:
        audience = subscribers_matching(broadcast.condition, audience)
    return audience


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
