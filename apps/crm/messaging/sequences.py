"""Sequences: add a subscriber, and the sweep that queues each due email in turn."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.core import oncommit
from apps.core.doorbell import doorbell_ring
from apps.core.outbox import drain_until_short

from .. import event_types, lock_objects
from ..events import events_record_bulk
from ..models import (
    ALL_WEEKDAYS,
    EmailKind,
    Sequence,
    SequenceEmail,
    SequenceSubscription,
    Subscriber,
    SubscriptionState,
)
from .outbox import emails_enqueue
from .rendering import Draft

SEQUENCE_BATCH = 500


def _send_slot(when: datetime, email: SequenceEmail) -> datetime:
    """The first moment from ``when`` on one of the email's send days and inside its send
    window, both read in the site's time zone (TIME_ZONE): "Tuesdays 9:00-11:00" means the
    creator's Tuesday morning, not UTC's."""
    days = set(email.send_days or ALL_WEEKDAYS)
    start, end = email.send_window_start, email.send_window_end
    if len(days) == 7 and start is None and end is None:
        return when
    local = timezone.localtime(when)
    for _ in range(8):
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if local.weekday() in days:
            opens = midnight.replace(hour=start.hour, minute=start.minute) if start else midnight
            closes = midnight.replace(hour=end.hour, minute=end.minute) if end else None
            if local < opens:
                return opens
            if closes is None or local < closes:
                return local
        local = midnight + timedelta(days=1)
    return local


def _next_email(emails: list[SequenceEmail], position: int) -> SequenceEmail | None:
    return next((e for e in emails if e.position >= position and e.published), None)


def _due(email: SequenceEmail, after: datetime) -> datetime:
    return _send_slot(after + timedelta(days=email.delay_days, hours=email.delay_hours), email)


@transaction.atomic
def sequence_subscribe(*, subscriber: Subscriber, sequence: Sequence, source: str) -> bool:
    """Add to a sequence; True if that started (or restarted) it. As in Kit: someone already
    in it (or on hold at the end of a Hold sequence) keeps their place; someone who
    completed it starts again from the first email only if the sequence has Repeat; someone
    who left it starts again."""
    emails = list(sequence.emails.order_by("position", "pk"))
    first = _next_email(emails, 0)
    now = timezone.now()
    sub, created = SequenceSubscription.objects.get_or_create(
        subscriber=subscriber,
        sequence=sequence,
        defaults={
            "source": source,
            "next_position": first.position if first else 0,
            "next_send_at": _due(first, now) if first else now,
        },
    )
    if not created:
        sub = lock_objects.sequence_subscription(pk=sub.pk)
        if sub.state == SubscriptionState.ACTIVE:
            return False
        if sub.state == SubscriptionState.COMPLETED and not sequence.repeat:
            return False
        sub.state, sub.finished_at, sub.source = SubscriptionState.ACTIVE, None, source
        sub.round += 1
        sub.next_position = first.position if first else 0
        sub.next_send_at = _due(first, now) if first else now
        sub.save()
    events_record_bulk(
        events=[
            (
                subscriber.pk,
                event_types.COURSE_SUBSCRIBE,
                {"sequence_id": sequence.pk, "source": source},
            )
        ]
    )
    oncommit.on_commit_once(_kick_sequences)
    return True


def sequence_place(*, subscriber: Subscriber, sequence: Sequence) -> str:
    """Where the subscriber stands in the sequence: "in progress", "on hold" (at the end of
    a Hold sequence), "completed", "left" or "" (never added)."""
    sub = (
        SequenceSubscription.objects.filter(subscriber=subscriber, sequence=sequence)
        .values_list("state", "next_send_at")
        .first()
    )
    if sub is None:
        return ""
    state, next_send_at = sub
    if state == SubscriptionState.ACTIVE:
        return "in progress" if next_send_at is not None else "on hold"
    return "completed" if state == SubscriptionState.COMPLETED else "left"


def _email_key(sub: SequenceSubscription, email: SequenceEmail) -> str:
    # The first pass keeps the original key; a repeated pass has its own, so its emails are
    # new outbox rows rather than duplicates of the first pass's.
    if sub.round <= 1:
        return f"sequence:{sub.pk}:email:{email.pk}"
    return f"sequence:{sub.pk}:round:{sub.round}:email:{email.pk}"


def _kick_sequences() -> None:
    from ..tasks import sequences_send

    doorbell_ring(sequences_send)


@transaction.atomic
def sequences_sweep_batch(*, now=None, limit: int = SEQUENCE_BATCH) -> int:
    """Claim due subscriptions (SKIP LOCKED), queue their due email, schedule the next or
    complete the sequence. A fixed number of queries per batch, whatever its size."""
    now = now or timezone.now()
    subs = list(lock_objects.sequence_subscriptions_due(now=now, limit=limit))
    if not subs:
        return 0
    emails: dict[int, list[SequenceEmail]] = {}
    for email in (
        SequenceEmail.objects.filter(sequence_id__in={s.sequence_id for s in subs})
        .select_related("layout")
        .order_by("position", "pk")
    ):
        emails.setdefault(email.sequence_id, []).append(email)
    drafts, events = [], []
    for sub in subs:
        listed = emails.get(sub.sequence_id, [])
        email = _next_email(listed, sub.next_position)
        if email is not None:
            drafts.append(
                Draft(
                    subscriber=sub.subscriber,
                    key=_email_key(sub, email),
                    kind=EmailKind.SEQUENCE,
                    subject=email.subject,
                    body=email.body,
                    is_marketing=not sub.sequence.is_purchase,
                    sequence_email=email,
                    body_format=email.body_format,
                    layout=email.layout,
                    track_clicks=email.track_clicks,
                    track_opens=email.track_opens,
                )
            )
            sub.last_sent_at = now
            following = _next_email(listed, email.position + 1)
            after = email.position + 1
        else:
            following, after = None, sub.next_position
        if following is None and sub.sequence.hold:
            # Kit's Hold: stay in the sequence at this place, for emails published later.
            sub.next_position, sub.next_send_at = after, None
            events.append(
                (sub.subscriber_id, event_types.COURSE_HOLD, {"sequence_id": sub.sequence_id})
            )
        elif following is None:
            sub.state, sub.finished_at, sub.next_send_at = SubscriptionState.COMPLETED, now, None
            events.append(
                (sub.subscriber_id, event_types.COURSE_COMPLETE, {"sequence_id": sub.sequence_id})
            )
        else:
            sub.next_position, sub.next_send_at = following.position, _due(following, now)
    emails_enqueue(drafts)
    SequenceSubscription.objects.bulk_update(
        subs, ["state", "finished_at", "next_send_at", "next_position", "last_sent_at"]
    )
    events_record_bulk(events=events)
    return len(subs)


@transaction.atomic
def sequences_holds_resume(*, now=None, limit: int = SEQUENCE_BATCH) -> int:
    """Subscribers on hold at the end of a Hold sequence get an email published after they
    got there: schedule it, its delay counted from their last email (at once if that time
    has passed). One query finds them (SKIP LOCKED), whatever the number on hold."""
    now = now or timezone.now()
    subs = list(lock_objects.sequence_holds_resumable(limit=limit))
    if not subs:
        return 0
    emails: dict[int, list[SequenceEmail]] = {}
    for email in SequenceEmail.objects.filter(
        sequence_id__in={s.sequence_id for s in subs}
    ).order_by("position", "pk"):
        emails.setdefault(email.sequence_id, []).append(email)
    for sub in subs:
        email = _next_email(emails.get(sub.sequence_id, []), sub.next_position)
        sub.next_position = email.position
        sub.next_send_at = max(now, _due(email, sub.last_sent_at or now))
    SequenceSubscription.objects.bulk_update(subs, ["next_position", "next_send_at"])
    return len(subs)


def sequences_send(*, now=None, max_batches: int = 50) -> int:
    sequences_holds_resume(now=now)
    return drain_until_short(
        lambda limit: sequences_sweep_batch(now=now, limit=limit),
        size=SEQUENCE_BATCH,
        max_batches=max_batches,
    )[0]
