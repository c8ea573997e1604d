from datetime import datetime

from django.db.models import QuerySet

from apps.core.outbox import rows_claim

from .models import EventStatus, StripeEvent


def events_pending_claim(
    *, limit: int, pk: int | None = None, received_before: datetime | None = None
) -> QuerySet[StripeEvent]:
    """Pending Stripe events, oldest first, locked; rows another worker holds are skipped."""
    events = StripeEvent.objects.filter(status=EventStatus.PENDING)
    if pk is not None:
        events = events.filter(pk=pk)
    if received_before is not None:
        events = events.filter(received_at__lt=received_before)
    return rows_claim(events.order_by("pk"), limit=limit)
