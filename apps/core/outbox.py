"""The leased outbox: how every kind of queued work is claimed, finished and retried.

Hook deliveries, emails, runs, webhook calls and the rest are rows in a queue. A worker
claims a batch (``lease_claim``: SKIP LOCKED, so claimers share the queue instead of waiting
on each other) and marks it with a fresh token, its holder and ``locked_until``, in one
transaction; it commits before doing the slow part (an HTTP call, an SMTP send). It records
the result with ``lease_finish``: an UPDATE guarded by the row's id, its leased state and the
token, so a worker whose lease was handed on meanwhile (it stalled and the reaper gave the
row to another) wins nothing, writes nothing, and logs that it lost the lease.

Work done inside one transaction (the dispatcher, the drip, webhook calls, Stripe events)
claims with ``rows_claim``: the row lock is its lease.

Long work done piece by piece (an import's batches, a Kit import's pages, a bulk job's items)
holds its lease for as long as it works, the heartbeat renewing it: each piece's transaction
starts with ``lease_fence``, which locks the row under the token or raises ``LeaseLost``, so
a worker whose lease was handed on writes no further piece. ``lease_dispatch`` hands queued
rows to workers, a capped number at once (claimed here, adopted by the worker that takes the
message); ``lease_take_over`` leases one row to a process that runs the work itself (a
management command), which holds it as a worker does inside ``lease_holding``.

A failure is retried after ``backoff`` (one formula: a base that grows by a factor per
attempt up to a cap) and its error stored through ``error_text`` (one length). Sweeps drain
their queue batch by batch with ``drain_until_short``. Holders, heartbeats, renewal and the
reaper are in ``apps/core/leases.py``.
"""

import contextlib
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from .leases import (
    heartbeat_start,
    heartbeat_stop,
    lease_holder,
    lease_kind,
    leases_done,
    leases_hold,
    leases_release_held,
)

logger = logging.getLogger(__name__)

# Every stored error (a run's, an email's, a delivery's) is cut to this many characters.
ERROR_MAX_CHARS = 2000
# Tokens fit PostgreSQL's integer; 0 is never one (the field's default: "never claimed").
TOKEN_MAX = 2**31 - 1


def error_text(error: BaseException | str) -> str:
    """What is stored of an error: an exception as "Type: message", cut to the one length."""
    if isinstance(error, BaseException):
        error = f"{type(error).__name__}: {error}"
    return error[:ERROR_MAX_CHARS]


def backoff(
    *, attempts: int, base: timedelta, factor: int = 2, cap: timedelta | None = None
) -> timedelta:
    """The wait before retrying after ``attempts`` failures (1 for the first): ``base``,
    then ``factor`` times longer after each further failure, never more than ``cap``."""
    wait = base * factor ** max(attempts - 1, 0)
    return min(wait, cap) if cap is not None else wait


def rows_claim(candidates: QuerySet, *, limit: int) -> QuerySet:
    """A claim that lasts as long as the caller's transaction, the row lock being the lease:
    up to ``limit`` rows of ``candidates``, in their order, that nobody else has locked. For
    work done inside the claiming transaction (the dispatcher, the drip, webhook calls,
    Stripe events). A worker that stalls in it is ended by PostgreSQL after
    ``DB_IDLE_IN_TRANSACTION_SECONDS``: its rows are freed for another, its writes refused."""
    return candidates.select_for_update(skip_locked=True, of=("self",))[:limit]


def lease_token_new() -> int:
    return secrets.randbelow(TOKEN_MAX) + 1


def lease_claim(
    kind: str, candidates: QuerySet, *, limit: int, now: datetime | None = None, **fields
) -> list[tuple[int, int]]:
    """Claim up to ``limit`` rows of ``candidates`` (a queryset in the order they should be
    taken) that no one else has locked: mark them leased (the kind's ``claimed`` fields and
    ``fields``) with one fresh token, this process as holder and ``locked_until``; return
    (id, token) pairs. One transaction; the caller's if it has one."""
    with transaction.atomic():
        ids = list(rows_claim(candidates.values_list("pk", flat=True), limit=limit))
        return lease_mark(kind, ids, now=now, **fields)


def lease_mark(
    kind: str, ids: list[int], *, now: datetime | None = None, **fields
) -> list[tuple[int, int]]:
    """The second half of a claim, for rows the caller has locked with ``rows_claim`` (a
    claim gathered from several queries, as the runs of each live automation)."""
    spec = lease_kind(kind)
    if spec.lease is None:
        raise ValueError(f"{kind}: a kind claimed under a lease registers its lease length")
    if not ids:
        return []
    now = now or timezone.now()
    token = lease_token_new()
    spec.model._default_manager.filter(pk__in=ids).update(
        locked_until=now + spec.lease,
        lease_token=token,
        lease_holder=lease_holder(),
        **spec.claimed,
        **fields,
    )
    pairs = [(pk, token) for pk in ids]
    leases_hold(kind, pairs)
    return pairs


def lease_lost(kind: str, ids: Iterable[int]) -> None:
    """A worker found its lease handed on (it stalled past it): it writes nothing."""
    ids = list(ids)
    if ids:
        leases_done(kind, ids)
        logger.warning(
            "%s %s: lost the lease (handed on while this worker stalled, or ended "
            "elsewhere); writing nothing",
            kind,
            ",".join(map(str, ids[:20])) + (" ..." if len(ids) > 20 else ""),
        )


def lease_row(kind: str, pk: int, token: int, *, queryset: QuerySet | None = None) -> Model | None:
    """The row this worker leased, read for its work, or None (logged) if the lease was
    handed on."""
    spec = lease_kind(kind)
    queryset = spec.model._default_manager.all() if queryset is None else queryset
    row = queryset.filter(spec.leased, pk=pk, lease_token=token).first()
    if row is None:
        lease_lost(kind, [pk])
    return row


class LeaseLost(Exception):
    """This worker's lease was handed on (it stalled past it, or someone took the work
    over): it stops, and writes nothing more."""


def lease_fence(kind: str, pk: int, token: int, *, queryset: QuerySet | None = None) -> Model:
    """The first statement of a transaction that writes one piece of leased work (a batch, a
    page): lock the row if it is still leased under ``token`` and return it. Otherwise log
    that the lease was lost and raise ``LeaseLost``, so the transaction writes nothing."""
    spec = lease_kind(kind)
    queryset = spec.model._default_manager.all() if queryset is None else queryset
    row = (
        queryset.filter(spec.leased, pk=pk, lease_token=token)
        .select_for_update(of=("self",))
        .first()
    )
    if row is None:
        lease_lost(kind, [pk])
        raise LeaseLost(f"{kind} {pk}: lease lost")
    return row


def lease_dispatch(
    kind: str, candidates: QuerySet, *, running_max: int, send: Callable[[int, int], None]
) -> int:
    """Hand queued rows of ``candidates`` (in the order they should go) to workers, as many
    as there is room for: at most ``running_max`` rows of the kind leased at once. The rest
    wait queued in the database (sent ahead to busy workers, their leases would run out in
    the broker and be handed on for nothing). Each goes with ``send(pk, token)`` (a task's
    ``delay``); this process holds them until the broker has the messages (a failed publish
    gives them back when the task ends); the worker that takes a message adopts its lease
    (``leases_adopt``). A message the broker loses is handed on by the reaper (the kind
    ``waits_in_broker``). Returns how many were sent."""
    spec = lease_kind(kind)
    room = running_max - spec.model._default_manager.filter(spec.leased).count()
    if room <= 0:
        return 0
    pairs = lease_claim(kind, candidates, limit=room)
    for pk, token in pairs:
        send(pk, token)
    leases_done(kind, [pk for pk, _ in pairs])
    return len(pairs)


def lease_take_over(kind: str, pk: int, *, unfinished: Q) -> int | None:
    """Lease one row to this process under a new token, whoever holds it now: for a process
    that runs the work itself (a management command, a test). Another holder's token no
    longer matches, so it writes nothing more. ``unfinished`` selects the rows there is
    still work on; None for any other (done, or gone). The row lock waits for the piece
    being written, so the take-over comes between two pieces."""
    spec = lease_kind(kind)
    with transaction.atomic():
        taken = (
            spec.model._default_manager.filter(unfinished, pk=pk)
            .select_for_update(of=("self",))
            .values_list("pk", flat=True)
            .first()
        )
        if taken is None:
            return None
        ((_, token),) = lease_mark(kind, [pk])
        return token


@contextlib.contextmanager
def lease_holding() -> Iterator[str]:
    """Inside the block this process holds leases as a worker does (``WORKER_HEARTBEATS``
    on): for a management command that takes long leased work over (an import run from the
    terminal). It beats, so the leases it takes are renewed for as long as it works and the
    reaper hands them on when it stops beating, not once a lease length has passed. Leases
    left unfinished at the end (an error, Ctrl-C) go back to their queue at once, as a
    failed task's do. A process that beats already (a worker) keeps its own heartbeat.
    Yields the holder ("" with heartbeats off)."""
    started = settings.WORKER_HEARTBEATS and not lease_holder()
    if started:
        heartbeat_start()
    try:
        yield lease_holder()
    finally:
        if started:
            leases_release_held()
            heartbeat_stop()


def lease_finish(kind: str, pk: int, token: int, **fields) -> bool:
    """Record the work of a lease: write ``fields`` and end the lease, only if the row is
    still leased under ``token``. Returns whether it won; a loser writes nothing and logs
    that it lost the lease. Call it in the transaction that writes the work's other rows,
    and write them only if it won."""
    spec = lease_kind(kind)
    won = spec.model._default_manager.filter(spec.leased, pk=pk, lease_token=token).update(
        locked_until=None, lease_holder="", **fields
    )
    if won:
        leases_done(kind, [pk])
    else:
        lease_lost(kind, [pk])
    return bool(won)


def drain_until_short(
    batch: Callable[[int], int],
    *,
    size: int,
    max_batches: int,
    total_max: int | None = None,
    until_empty: bool = False,
) -> tuple[int, bool]:
    """Run ``batch(limit)`` (which claims and handles at most ``limit`` rows and returns how
    many) until a batch comes back short of its limit, ``max_batches`` ran, or ``total_max``
    rows were handled. Returns the total and whether it stopped at a bound (work may be
    left: the caller rings itself again). ``until_empty``: a short batch is not the end,
    only an empty one (the dispatcher: a batch's consumers may record new events)."""
    total = 0
    for _ in range(max_batches):
        limit = size if total_max is None else min(size, total_max - total)
        if limit <= 0:
            return total, True
        done = batch(limit)
        total += done
        if done == 0 or (done < limit and not until_empty):
            return total, False
    return total, True
