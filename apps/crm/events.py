"""Writing to the event log (the outbox every consumer reads from).

Call these inside the transaction that makes the change: the event commits or rolls back
with it, and the dispatcher is rung once the transaction commits.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from apps.core import oncommit
from apps.core.doorbell import doorbell_ring

from .models import Event

EVENT_BULK_BATCH_SIZE = 1000

# How many automation steps led to the change being recorded: an automation's step runs with
# its run's depth + 1, and every event it causes carries that depth, so a chain of automations
# that keep triggering each other can be stopped at a bound (apps/automations).
_CHAIN_DEPTH: ContextVar[int] = ContextVar("tessera_event_chain_depth", default=0)


@contextmanager
def event_chain_depth(depth: int) -> Iterator[None]:
    token = _CHAIN_DEPTH.set(depth)
    try:
        yield
    finally:
        _CHAIN_DEPTH.reset(token)


def _stamped(payload: dict | None) -> dict:
    depth = _CHAIN_DEPTH.get()
    payload = dict(payload or {})
    if depth:
        payload["chain_depth"] = depth
    return payload


# Events written while a buffer is open wait in it and are inserted in one statement when it
# closes (still inside the caller's transaction): the engine opens one around a chunk of runs,
# whose steps would otherwise insert their tag events one row at a time.
_BUFFER: ContextVar[list[Event] | None] = ContextVar("tessera_event_buffer", default=None)


@contextmanager
def events_buffered() -> Iterator[None]:
    """Collect the events recorded inside the block and insert them together at its end.

    Use it only inside a transaction that the block's end also ends or continues: an event
    must commit with its change. Inside the block, recorded events have no primary key yet."""
    if _BUFFER.get() is not None:
        yield
        return
    buffer: list[Event] = []
    token = _BUFFER.set(buffer)
    try:
        yield
    finally:
        _BUFFER.reset(token)
    _write(buffer)


def events_flush() -> None:
    """Insert what the open buffer holds now. Call it before reading the event log inside
    a buffered block (an event wait, a watermark), so the block sees its own events.

    The buffer knows nothing of savepoints: a block that rolls a savepoint back and carries
    on must flush before the savepoint, or its events outlive the rollback."""
    buffer = _BUFFER.get()
    if buffer:
        rows = buffer[:]
        buffer.clear()
        _write(rows)


def _insert(rows: list[Event]) -> None:
    buffer = _BUFFER.get()
    if buffer is not None:
        buffer.extend(rows)
        return
    _write(rows)


def _write(rows: list[Event]) -> None:
    if rows:
        Event.objects.bulk_create(rows, batch_size=EVENT_BULK_BATCH_SIZE)
        dispatcher_kick_on_commit()


def event_record(*, subscriber_id: int | None, type: str, payload: dict | None = None) -> Event:
    event = Event(subscriber_id=subscriber_id, type=type, payload=_stamped(payload))
    _insert([event])
    return event


def events_record_bulk(*, events: Iterable[tuple[int | None, str, dict]]) -> int:
    rows = [
        Event(subscriber_id=sid, type=type_, payload=_stamped(payload))
        for sid, type_, payload in events
    ]
    _insert(rows)
    return len(rows)


def _kick() -> None:
    from .tasks import events_dispatch

    doorbell_ring(events_dispatch)


def dispatcher_kick_on_commit() -> None:
    """Ask a worker to dispatch once the current transaction commits: one message per
    transaction, however many events it wrote (the beat sweep covers a lost one)."""
    oncommit.on_commit_once(_kick)
