from datetime import datetime

from django.db.models import QuerySet

from apps.core.outbox import rows_claim

from .models import AccessGrant, Offering


def grants_drip_due(*, now: datetime, limit: int) -> QuerySet[AccessGrant]:
    return rows_claim(
        AccessGrant.objects.filter(revoked_at__isnull=True, next_release_at__lte=now).order_by(
            "next_release_at", "pk"
        ),
        limit=limit,
    )


def grant_for_update(*, subscriber_id: int, offering_id: int) -> QuerySet[AccessGrant]:
    return AccessGrant.objects.filter(
        subscriber_id=subscriber_id, offering_id=offering_id
    ).select_for_update()


def offering_for_update(offering_id: int) -> Offering:
    return Offering.objects.select_for_update().get(pk=offering_id)


def grants_active_for_update(*, offering_id: int) -> QuerySet[AccessGrant]:
    """The offering's active grants, in one lock order."""
    return (
        AccessGrant.objects.filter(offering=offering_id, revoked_at__isnull=True)
        .order_by("pk")
        .select_for_update()
    )


def grants_active_among_for_update(
    *, subscriber_ids: set[int], offering_ids: set[int]
) -> QuerySet[AccessGrant]:
    """Active grants of these subscribers to these offerings, in one lock order."""
    return (
        AccessGrant.objects.filter(
            subscriber_id__in=subscriber_ids,
            offering_id__in=offering_ids,
            revoked_at__isnull=True,
        )
        .order_by("pk")
        .select_for_update()
    )
