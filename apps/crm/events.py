"""Writing to the event log (the outbox every consumer reads from).

Call these inside the transaction that makes the change: the event commits or rolls back
with it, and the dispatcher is rung once the transaction commits.
"""

from collections.abc import Iterable

from django.db import transaction

from .models import Event

EVENT_BULK_BATCH_SIZE = 1000


def event_record(*, subscriber_id: int | None, type: str, payload: dict | None = None) -> Event:
    event = Event.objects.create(subscriber_id=subscriber_id, type=type, payload=payload or {})
    dispatcher_kick_on_commit()
    return event


def events_record_bulk(*, events: Iterable[tuple[int | None, str, dict]]) -> int:
    rows = [Event(subscriber_id=sid, type=type_, payload=payload) for sid, type_, payload in events]
    if not rows:
        return 0
    Event.objects.bulk_create(rows, batch_size=EVENT_BULK_BATCH_SIZE)
    dispatcher_kick_on_commit()
    return len(rows)


def _kick() -> None:
    from .tasks import events_dispatch

    events_dispatch.delay()


def dispatcher_kick_on_commit() -> None:
    """Ask a worker to dispatch once the current transaction commits.

    One kick per transaction is enough (the dispatcher drains everything pending), so a
    transaction that writes ten thousand events sends one message, not ten thousand. A kick
    that fails to reach the broker is logged and otherwise ignored: the beat sweep picks the
    events up a few seconds later.
    """
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(
        func is _kick for _sids, func, _robust in connection.run_on_commit
    ):
        return
    transaction.on_commit(_kick, robust=True)
