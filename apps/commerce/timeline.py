"""Orders on the subscriber's timeline (crm.timeline): what they paid, refunds, flags."""

from django.urls import reverse

from apps.crm.models import Subscriber
from apps.crm.timeline import TimelineEntry, text_short

from .models import Order, OrderStatus


def orders_timeline(subscriber: Subscriber, limit: int) -> list[TimelineEntry]:
    """One query."""
    orders = (
        Order.objects.filter(subscriber=subscriber)
        .select_related("offering")
        .order_by("-paid_at", "-pk")[:limit]
    )
    return [
        TimelineEntry(
            at=order.paid_at,
            kind="order",
            title=f"Order: {order.amount} {order.currency} ({order.source})",
            detail=f"{order.get_status_display()}"
            + (f": {order.offering.name}" if order.offering else "")
            + (f": {text_short(order.flag_reason, 160)}" if order.flag_reason else ""),
            url=reverse("admin:commerce_order_change", args=[order.pk]),
            failed=order.status == OrderStatus.FLAGGED,
        )
        for order in orders
    ]
