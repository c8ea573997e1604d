"""The one place lock querysets are built, so every lock is taken in the same order.

Claims order by primary key: two claimers that lock overlapping sets in the same order
cannot deadlock, and SKIP LOCKED lets them share the work instead of waiting on each other.
Claims of queued work go through the lease primitive (``apps/core/outbox.py``): a leased
claim (``lease_claim``, given the candidates in their order) or one that lasts the claiming
transaction (``rows_claim``).
"""

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from apps.core.outbox import rows_claim

from .models import (
    Broadcast,
    EmailMessage,
    EmailStatus,
    Event,
    FormSubscription,
    SequenceEmail,
    SequenceSubscription,
    SubscriberImport,
    SubscriptionState,
)


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
    """Due deliveries in the order they are claimed (under a lease: ``lease_claim``)."""
    from .models import DeliveryStatus, WebhookDelivery

    return WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")


# Email ------------------------------------------------------------------------------------


def email_queued_due(*, now: datetime) -> QuerySet[EmailMessage]:
    """Queued emails whose time has come, oldest first: the sender claims them under a
    lease (``lease_claim``)."""
    return EmailMessage.objects.filter(
        status=EmailStatus.QUEUED, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")


def emails_releasable(*, message_ids: list[int]) -> QuerySet[EmailMessage]:
    """Held or failed emails a creator releases, locked (waiting for a sweep holding them)."""
    return (
        EmailMessage.objects.filter(
            pk__in=message_ids, status__in=[EmailStatus.HELD, EmailStatus.FAILED]
        )
        .select_related("subscriber", "sequence_email", "broadcast")
        .order_by("pk")
        .select_for_update(of=("self",))
    )


def emails_held_due(*, now: datetime, limit: int) -> QuerySet[EmailMessage]:
    """The hold sweep's claim: held emails whose next check is due (SKIP LOCKED)."""
    return rows_claim(
        EmailMessage.objects.filter(status=EmailStatus.HELD, next_attempt_at__lte=now)
        .select_related("subscriber", "sequence_email", "broadcast")
        .order_by("next_attempt_at", "pk"),
        limit=limit,
    )


# Sequences and broadcasts -----------------------------------------------------------------


def sequence_subscription(*, pk: int) -> SequenceSubscription:
    return SequenceSubscription.objects.select_for_update().get(pk=pk)


def sequence_subscriptions_due(*, now: datetime, limit: int) -> QuerySet[SequenceSubscription]:
    """The sequence sweep's claim: active subscriptions whose next email is due (SKIP LOCKED)."""
    return rows_claim(
        SequenceSubscription.objects.filter(state=SubscriptionState.ACTIVE, next_send_at__lte=now)
        .select_related("subscriber", "sequence")
        .order_by("next_send_at", "pk"),
        limit=limit,
    )


def sequence_holds_resumable(*, limit: int) -> QuerySet[SequenceSubscription]:
    """Subscribers on hold at the end of a Hold sequence that has since published an email
    past their place (SKIP LOCKED)."""
    later = SequenceEmail.objects.filter(
        sequence_id=OuterRef("sequence_id"),
        published=True,
        position__gte=OuterRef("next_position"),
    )
    return rows_claim(
        SequenceSubscription.objects.filter(
            Exists(later), state=SubscriptionState.ACTIVE, next_send_at__isnull=True
        ).order_by("pk"),
        limit=limit,
    )


def broadcast(*, pk: int) -> Broadcast:
    return Broadcast.objects.select_for_update().get(pk=pk)


def form_subscription(*, pk: int) -> FormSubscription | None:
    """A form subscription being confirmed (with its subscriber and form), or None."""
    return (
        FormSubscription.objects.select_related("subscriber", "form")
        .select_for_update(of=("self",))
        .filter(pk=pk)
        .first()
    )


# Imports ----------------------------------------------------------------------------------


def subscriber_import(*, pk: int, with_content: bool = True) -> SubscriberImport:
    """An import's row, locked: its batches run one after another under it. Without
    ``with_content`` the file is not read (a batch does not need it)."""
    imports = (
        SubscriberImport.objects.all()
        if with_content
        else SubscriberImport.objects.defer("content")
    )
    return imports.select_for_update().get(pk=pk)
