from datetime import datetime

from django.db.models import QuerySet

from apps.core.outbox import rows_claim
from apps.crm.models import Subscriber

from .models import CallStatus, LoginThrottle, WebhookCall


def calls_accepted_claim(
    *, limit: int, received_before: datetime | None = None, pk: int | None = None
) -> QuerySet[WebhookCall]:
    """Accepted calls, oldest first, locked; rows another worker holds are skipped."""
    calls = WebhookCall.objects.filter(status=CallStatus.ACCEPTED)
    if received_before is not None:
        calls = calls.filter(received_at__lt=received_before)
    if pk is not None:
        calls = calls.filter(pk=pk)
    return rows_claim(calls.select_related("endpoint__offering").order_by("pk"), limit=limit)


def subscriber_for_update(subscriber_id: int) -> Subscriber:
    """Serialises every operation on one person: twenty copies of one delivery queue here and
    find the member, grant and event the first one made."""
    return Subscriber.objects.select_for_update().get(pk=subscriber_id)


def throttle_for_update(*, key: str, now: datetime) -> LoginThrottle:
    """The counter row for ``key``, made (its window starting ``now``) if it is new; locked."""
    return LoginThrottle.objects.select_for_update().get_or_create(
        key=key, defaults={"window_started_at": now}
    )[0]


def throttle_if_any_for_update(*, key: str) -> LoginThrottle | None:
    """The counter row for ``key`` if there is one, locked."""
    return LoginThrottle.objects.select_for_update().filter(key=key).first()
