"""Sales on the admin's Health list: Stripe events that failed, orders flagged."""

from datetime import datetime
from urllib.parse import urlencode

from django.urls import reverse

from apps.crm.health import HEALTH_WINDOW, HealthItem

from .models import EventStatus, Order, OrderStatus, StripeEvent


def sales_health(now: datetime) -> list[HealthItem]:
    since = now - HEALTH_WINDOW
    failed = StripeEvent.objects.filter(status=EventStatus.FAILED, received_at__gte=since).count()
    flagged = Order.objects.filter(status=OrderStatus.FLAGGED, paid_at__gte=since).count()
    events = reverse("admin:commerce_stripeevent_changelist")
    orders = reverse("admin:commerce_order_changelist")
    return [
        HealthItem(
            label="Stripe events failed (24 h)",
            value=str(failed),
            ok=failed == 0,
            url=f"{events}?{urlencode({'status__exact': EventStatus.FAILED})}",
            permission="commerce.view_stripeevent",
            hint="Read the error, fix its cause, then replay the events from their list.",
        ),
        HealthItem(
            label="Payments flagged (24 h)",
            value=str(flagged),
            ok=flagged == 0,
            url=f"{orders}?{urlencode({'status__exact': OrderStatus.FLAGGED})}",
            permission="commerce.view_order",
            hint="Paid with an unknown price, another currency or amount: no access was given. "
            "Refund the buyer in Stripe, or fix the price and replay the event.",
        ),
    ]
