from datetime import datetime

from django.db.models import QuerySet

from apps.core.outbox import rows_claim

from .models import CallStatus, WebhookCall


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
