"""The one place lock querysets are built, so every lock is taken in the same order.

Claims order by primary key: two claimers that lock overlapping sets in the same order
cannot deadlock, and SKIP LOCKED lets them share the work instead of waiting on each other.
"""

from datetime import datetime

from django.db.models import Q, QuerySet

from apps.core.outbox import rows_claim

from .models import Event


def events_claimable(*, now: datetime, limit: int) -> QuerySet[Event]:
    # Locks events only: the subscriber join is nullable, and PostgreSQL cannot lock that side.
    return rows_claim(
        Event.objects.filter(dispatched_at__isnull=True, failed_at__isnull=True)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .select_related("subscriber")
        .order_by("pk"),
        limit=limit,
    )


def deliveries_due(*, now: datetime) -> QuerySet:
    """Due deliveries in the order they are claimed (``apps/core/outbox.lease_claim`` locks
    them, skipping those another worker holds)."""
    from .models import DeliveryStatus, WebhookDelivery

    return WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")
