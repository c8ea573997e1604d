"""The event dispatcher and its consumer registry.

Higher apps register consumers in ``AppConfig.ready()`` (automation triggers, outbound hooks,
offering access sync). The dispatcher claims a batch of pending events with
``SELECT ... FOR UPDATE SKIP LOCKED``, hands it to every consumer, and marks it dispatched in
the same transaction, so consumers' database effects and the mark commit together: a crash
anywhere rolls both back and the next sweep delivers the batch again, and a committed batch is
never delivered twice. Consumers therefore do database work only; anything that leaves the
machine (email, HTTP) they record as an outbox row for another task to deliver.

If a batch fails, it is replayed one event at a time so that one bad event cannot hold back
the others; the bad one is retried with backoff and, after ``EVENT_MAX_ATTEMPTS``, set aside
as failed (visible in the admin, with its error).
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.outbox import backoff, drain_until_short, error_text

from .lock_objects import events_claimable
from .models import Event

logger = logging.getLogger(__name__)

EVENT_MAX_ATTEMPTS = 8
EVENT_RETRY_BASE_SECONDS = 15
EVENT_RETRY_MAX_SECONDS = 3600
# A dispatch task drains at most this many batches, then yields the worker; the sweep or the
# next kick carries on. Keeps one task short however large the backlog.
EVENT_MAX_BATCHES_PER_RUN = 200


@dataclass(frozen=True)
class Consumer:
    name: str
    handle: Callable[[list[Event]], None]
    event_types: frozenset[str] | None = None

    def wants(self, event: Event) -> bool:
        return self.event_types is None or event.type in self.event_types


_CONSUMERS: dict[str, Consumer] = {}


def consumer_register(
    *, name: str, handle: Callable[[list[Event]], None], event_types: Iterable[str] | None = None
) -> None:
    """Register ``handle`` to receive batches of events (only of ``event_types``, if given)."""
    _CONSUMERS[name] = Consumer(
        name=name,
        handle=handle,
        event_types=frozenset(event_types) if event_types is not None else None,
    )


def consumer_unregister(*, name: str) -> None:
    _CONSUMERS.pop(name, None)


def _deliver(events: list[Event]) -> None:
    for consumer in list(_CONSUMERS.values()):
        wanted = [event for event in events if consumer.wants(event)]
        if wanted:
            consumer.handle(wanted)


def _record_failure(event: Event, exc: Exception, now) -> None:
    attempts = event.attempts + 1
    failed = attempts >= EVENT_MAX_ATTEMPTS
    Event.objects.filter(pk=event.pk).update(
        attempts=attempts,
        last_error=error_text(exc),
        next_attempt_at=None
        if failed
        else now
        + backoff(
            attempts=attempts,
            base=timedelta(seconds=EVENT_RETRY_BASE_SECONDS),
            cap=timedelta(seconds=EVENT_RETRY_MAX_SECONDS),
        ),
        failed_at=now if failed else None,
    )
    logger.warning(
        "event %s (%s) failed in a consumer, attempt %s%s",
        event.pk,
        event.type,
        attempts,
        ": giving up" if failed else "",
    )


def events_dispatch_batch(*, batch_size: int | None = None) -> int:
    """Claim and deliver one batch; return how many events it claimed (0 = nothing pending)."""
    batch_size = batch_size or settings.EVENT_DISPATCH_BATCH_SIZE
    now = timezone.now()
    with transaction.atomic():
        events = list(events_claimable(now=now, limit=batch_size))
        if not events:
            return 0
        try:
            with transaction.atomic():
                _deliver(events)
                Event.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=now)
        except Exception:
            logger.exception("event batch failed; replaying it one event at a time")
            # The slow path runs only after a failure; one savepoint per event is the point.
            for event in events:
                try:
                    with transaction.atomic():
                        _deliver([event])
                        Event.objects.filter(pk=event.pk).update(dispatched_at=now)
                except Exception as exc:
                    _record_failure(event, exc, now)
    return len(events)


def events_dispatch(
    *, batch_size: int | None = None, max_batches: int = EVENT_MAX_BATCHES_PER_RUN
) -> int:
    """Drain pending events batch by batch; return how many were claimed in all."""
    return events_dispatch_some(batch_size=batch_size, max_batches=max_batches)[0]


def events_dispatch_some(
    *, batch_size: int | None = None, max_batches: int = EVENT_MAX_BATCHES_PER_RUN
) -> tuple[int, bool]:
    """Drain pending events, at most ``max_batches`` batches; return how many were claimed
    and whether it stopped at that bound (so more may be pending)."""
    size = batch_size or settings.EVENT_DISPATCH_BATCH_SIZE
    return drain_until_short(
        lambda limit: events_dispatch_batch(batch_size=limit),
        size=size,
        max_batches=max_batches,
        until_empty=True,
    )
