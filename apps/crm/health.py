"""Health for the admin's index page: is work flowing, and what failed lately.

crm reports its own queues (the event outbox, emails, webhook deliveries); higher apps add
theirs (the automation engine's runs) with ``health_check_register`` in ``AppConfig.ready()``.
Each check is a fixed number of queries on indexed columns, whatever the size of the tables.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Min
from django.urls import reverse
from django.utils import timezone

from .models import DeliveryStatus, EmailMessage, EmailStatus, Event, WebhookDelivery

HEALTH_WINDOW = timedelta(hours=24)
# Older than this, a pending event means the dispatcher is not keeping up (or not running).
EVENT_LAG_WARN_SECONDS = 60


@dataclass(frozen=True)
class HealthItem:
    """One figure on the index page: ``value`` as shown, ``ok`` false when it needs a look,
    ``url`` the filtered admin list behind it, visible to holders of ``permission``."""

    label: str
    value: str
    ok: bool
    url: str
    permission: str
    hint: str = ""


Check = Callable[[datetime], list[HealthItem]]
_CHECKS: dict[str, tuple[int, Check]] = {}


def health_check_register(*, name: str, order: int, check: Check) -> None:
    _CHECKS[name] = (order, check)


def health_all(*, now: datetime | None = None) -> list[HealthItem]:
    now = now or timezone.now()
    return [
        item
        for _, check in sorted(_CHECKS.values(), key=lambda pair: pair[0])
        for item in check(now)
    ]


def seconds_shown(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def admin_list_url(name: str, **filters) -> str:
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


HELD_REASON_SHOWN = 160


def crm_health(now: datetime) -> list[HealthItem]:
    """Five queries: the oldest pending event, failed emails, held emails and the newest
    one's reason, failed deliveries."""
    oldest = Event.objects.filter(dispatched_at__isnull=True, failed_at__isnull=True).aggregate(
        oldest=Min("created_at")
    )["oldest"]
    lag = (now - oldest).total_seconds() if oldest else 0.0
    since = (now - HEALTH_WINDOW).isoformat()
    emails = EmailMessage.objects.filter(
        status=EmailStatus.FAILED, created_at__gte=now - HEALTH_WINDOW
    ).count()
    held = EmailMessage.objects.filter(status=EmailStatus.HELD)
    held_count = held.count()
    newest = held.order_by("-pk").values_list("to_email", "error").first()
    deliveries = WebhookDelivery.objects.filter(
        status=DeliveryStatus.FAILED, created_at__gte=now - HEALTH_WINDOW
    ).count()
    return [
        HealthItem(
            label="Event sweep lag (oldest undispatched event)",
            value=seconds_shown(lag),
            ok=lag < EVENT_LAG_WARN_SECONDS,
            url=admin_list_url("crm_event", dispatched_at__isempty="1"),
            permission="crm.view_event",
            hint="Events wait for a worker: is the Celery worker (and beat) running?",
        ),
        HealthItem(
            label="Failed emails (last 24 h)",
            value=str(emails),
            ok=emails == 0,
            url=admin_list_url("crm_emailmessage", status__exact="failed", created_at__gte=since),
            permission="crm.view_emailmessage",
            hint="Open one to read the error; re-queue once the cause is fixed.",
        ),
        HealthItem(
            label="Held emails (not sent: a variable had no value)",
            value=str(held_count)
            + (f" · newest, to {newest[0]}: {newest[1][:HELD_REASON_SHOWN]}" if newest else ""),
            ok=held_count == 0,
            url=admin_list_url("crm_emailmessage", status__exact="held"),
            permission="crm.view_emailmessage",
            hint="The hold sweep sends each once it renders (the login exists, the field is "
            "set); release or cancel one by hand from the list.",
        ),
        HealthItem(
            label="Failed hook deliveries (last 24 h)",
            value=str(deliveries),
            ok=deliveries == 0,
            url=admin_list_url(
                "crm_webhookdelivery", status__exact="failed", created_at__gte=since
            ),
            permission="crm.view_webhookdelivery",
            hint="The receiver kept refusing after every retry; its last answer is logged.",
        ),
    ]


health_check_register(name="crm", order=0, check=crm_health)
