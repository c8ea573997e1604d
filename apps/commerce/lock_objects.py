from datetime import datetime

from django.db.models import QuerySet

from apps.core.outbox import rows_claim

from .models import EventStatus, Order, StripeEvent, Subscription


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


def order_for_update(*, order_id: int) -> Order:
    """The order, locked, with its price, product, offering and subscriber."""
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("price__product", "offering", "subscriber")
        .get(pk=order_id)
    )


def subscription_for_update(*, stripe_id: str) -> Subscription | None:
    """The subscription Stripe knows as ``stripe_id``, locked, with its price's offering and
    its subscriber; None when it was not sold through Tessera."""
    return (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("price__product__offering", "subscriber")
        .filter(stripe_id=stripe_id)
        .first()
    )
