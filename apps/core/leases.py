"""Leases and their holders: work a dead worker held is handed on in seconds.

Runs, emails and webhook deliveries are claimed under a lease: a status that says "someone
is on it", ``locked_until`` and a ``lease_token`` that fences a late writer. A lease also
records its holder, the process that claimed it (``lease_holder``), and every worker process
writes a heartbeat row every ``HEARTBEAT_SECONDS``. The reaper (beat, every
``LEASE_REAP_SECONDS``) hands work on when:

- its holder's heartbeat is older than ``HOLDER_DEAD_AFTER`` (a SIGKILLed worker, a lost
  machine): seconds, not the whole lease;
- the lease itself ran out (``locked_until``), whoever holds it: the backstop;
- the broker lost its messages (a Redis flush or restart, seen by a sentinel key that
  vanished) and the kind waits in the broker between claim and work (runs: the sweep claims,
  a worker advances). Rows a worker is working on are row-locked and skipped.

A task that ends with leases it claimed and did not finish (the database connection broke
under it) gives them back at once (``leases_release_held``, on Celery's ``task_postrun``),
since its heartbeat goes on and would keep them for the whole lease.

Each kind registers how it is put back in the queue and how long its lease is. The process
keeps the leases it holds in memory (``leases_hold`` / ``leases_done``) and the heartbeat
thread renews them (``leases_renew``) at least every third of the lease, so a lease runs out
only when its holder stopped renewing it. Attempts count real failures only (an exception,
a holder confirmed dead): a lease that ran out while its holder beats (paused, starved) is
handed on uncounted, and the holder, when it wakes, finds the token changed and writes
nothing (``apps/core/outbox.py``: claim, guarded finish, backoff, error length).
"""

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from secrets import token_hex

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Model, Q
from django.db.models.functions import Now
from django.utils import timezone

from .models import ProcessHeartbeat, ProcessKind

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = settings.WORKER_HEARTBEAT_SECONDS
# Stale beyond this, a holder is dead: five missed beats (a busy machine can delay a beat or
# two; it does not stop one for this long without the process being gone).
HOLDER_DEAD_AFTER = timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)
# Rows of processes gone this long are deleted (Health shows the recent ones).
HEARTBEAT_FORGET_AFTER = timedelta(hours=1)
# A key the reaper keeps in the broker's Redis: if it vanished, so did the queued messages.
BROKER_SENTINEL_KEY = "tessera:broker-sentinel"
REAP_BATCH = 1000
# Giving back held leases after a task failed: tries and the pause before each retry.
RELEASE_PAUSES = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class LeaseKind:
    """A model whose rows are claimed under a lease. ``leased`` selects rows under a lease;
    ``claimed`` are the fields a claim sets besides the lease (the leased status);
    ``free(ids, reason, counted)`` puts rows (locked by the caller) back in the queue;
    ``counted`` is true when the holder died (an attempt that really failed). ``lease`` is
    how long a claim lasts unless renewed (None: never renewed). With ``waits_in_broker``,
    claimed rows wait in a broker message before a worker takes them."""

    name: str
    model: type[Model]
    leased: Q
    free: Callable[[list[int], str, bool], int]
    lease: timedelta | None = None
    claimed: dict = field(default_factory=dict, hash=False)
    waits_in_broker: bool = False


_KINDS: dict[str, LeaseKind] = {}


def lease_kind_register(kind: LeaseKind) -> None:
    _KINDS[kind.name] = kind


def lease_kind(name: str) -> LeaseKind:
    return _KINDS[name]


# This process as a holder ---------------------------------------------------------------

_process = {"pid": None, "holder": "", "healthy_since": None, "thread": None}
_process_lock = threading.Lock()
_stop = threading.Event()


def lease_holder() -> str:
    """This process's holder id ("" outside a heartbeating worker: a web request, a test or
    a command; such leases are handed on only when they run out)."""
    return _process["holder"] if _process["pid"] == os.getpid() else ""


def heartbeat_start(*, kind: str = ProcessKind.WORKER) -> str:
    """Become a holder: write the first beat now, then beat from a thread. Idempotent per
    process (a forked child starts its own)."""
    with _process_lock:
        if _process["pid"] == os.getpid():
            return _process["holder"]
        holder = f"{kind}:{socket.gethostname()}:{os.getpid()}:{token_hex(3)}"
        healthy_since = float("-inf")
        try:
            _heartbeat_write(holder, kind, first=True)
        except DatabaseError:  # the database is away: the thread beats once it is back
            logger.warning("first heartbeat of %s failed", holder, exc_info=True)
            connection.close()
            healthy_since = None
        _process.update(pid=os.getpid(), holder=holder, healthy_since=healthy_since, thread=None)
        _stop.clear()
        thread = threading.Thread(
            target=_heartbeat_loop, args=(holder, kind), name="tessera-heartbeat", daemon=True
        )
        thread.start()
        _process["thread"] = thread
        return holder


def heartbeat_stop() -> None:
    """A clean stop: no more beats, and the row goes (a stopped process holds nothing)."""
    holder = lease_holder()
    if not holder:
        return
    _stop.set()
    _process.update(pid=None, holder="")
    try:
        ProcessHeartbeat.objects.filter(holder=holder).delete()
    except DatabaseError:
        logger.warning("could not remove the heartbeat of %s", holder, exc_info=True)


def _heartbeat_write(holder: str, kind: str, *, first: bool = False) -> None:
    updated = 0 if first else ProcessHeartbeat.objects.filter(holder=holder).update(beat_at=Now())
    if not updated:
        ProcessHeartbeat.objects.update_or_create(
            holder=holder,
            defaults={
                "kind": kind,
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": timezone.now(),
                "beat_at": Now(),
            },
        )


def _heartbeat_loop(holder: str, kind: str) -> None:
    try:
        _heartbeat_beat(holder, kind)
    finally:
        connection.close()  # this thread's own connection goes with it


def heartbeat_interval() -> float:
    """``HEARTBEAT_SECONDS``, or a third of the shortest lease if shorter."""
    leases = [k.lease.total_seconds() for k in _KINDS.values() if k.lease]
    return min([HEARTBEAT_SECONDS, *(lease / 3 for lease in leases)])


def _heartbeat_beat(holder: str, kind: str) -> None:
    while not _stop.wait(heartbeat_interval()):
        try:
            close_old_connections()
            _heartbeat_write(holder, kind)
            leases_renew()
        except Exception:
            if _process["healthy_since"] is not None:
                logger.warning("heartbeat of %s failed", holder, exc_info=True)
            _process["healthy_since"] = None
            with contextlib.suppress(Exception):  # the connection is gone already
                connection.close()
            continue
        if _process["healthy_since"] is None:
            logger.info("heartbeat of %s resumed", holder)
            _process["healthy_since"] = time.monotonic()


def beat_heartbeat(*, holder: str) -> None:
    """Beat's pulse, written from its scheduler loop (beat holds no leases)."""
    _heartbeat_write(holder, ProcessKind.BEAT)


def _may_judge_others() -> bool:
    """Judge other holders dead only once our own beats have gone through for a full
    ``HOLDER_DEAD_AFTER``: after a database outage every row is stale, and the live workers
    need a few seconds to beat again before a missing beat means anything."""
    if not lease_holder():
        return True
    since = _process["healthy_since"]
    return since is not None and time.monotonic() - since >= HOLDER_DEAD_AFTER.total_seconds()


# Leases this process holds ------------------------------------------------------------------


# Per thread (a task's own leases, given back when it ends), in one registry the heartbeat
# thread reads to renew them all; every change goes through the lock.
_HELD: dict[int, dict[str, dict[int, int]]] = {}
_held_lock = threading.Lock()


def _held() -> dict[str, dict[int, int]]:
    return _HELD.setdefault(threading.get_ident(), {})


def _held_forget() -> None:
    with _held_lock:
        _HELD.pop(threading.get_ident(), None)


def leases_held() -> dict[str, dict[int, int]]:
    """What this process holds, every thread's together: kind -> {row id: token}."""
    with _held_lock:
        merged: dict[str, dict[int, int]] = {}
        for held in _HELD.values():
            for kind, pairs in held.items():
                merged.setdefault(kind, {}).update(pairs)
        return merged


def leases_hold(kind: str, pairs: Iterable[tuple[int, int]]) -> None:
    """Note (row id, token) pairs this process claimed; a heartbeating process only."""
    if lease_holder():
        with _held_lock:
            _held().setdefault(kind, {}).update(pairs)


def leases_done(kind: str, ids: Iterable[int] | None = None) -> None:
    """The work of these leases (all of the kind's, with ``ids`` None) is recorded."""
    with _held_lock:
        held = _held().get(kind)
        if held is None:
            return
        if ids is None:
            held.clear()
        else:
            for pk in ids:
                held.pop(pk, None)


def leases_renew(*, now: datetime | None = None) -> int:
    """Extend the leases this process holds (the heartbeat thread, every beat): those with
    less than two thirds left get a whole lease again. Rows locked right now are skipped,
    not waited for (nobody can reap them either), so a long transaction never holds up the
    beat. Returns how many were renewed."""
    now = now or timezone.now()
    renewed = 0
    for name, pairs in leases_held().items():
        kind = _KINDS[name]
        if kind.lease is None or not pairs:
            continue
        by_token: dict[int, list[int]] = {}
        for pk, token in pairs.items():
            by_token.setdefault(token, []).append(pk)
        for token, ids in by_token.items():
            with transaction.atomic():
                due = list(
                    kind.model.objects.filter(
                        kind.leased,
                        pk__in=ids,
                        lease_token=token,
                        locked_until__lt=now + kind.lease * 2 / 3,
                    )
                    .order_by("pk")
                    .select_for_update(skip_locked=True)
                    .values_list("pk", flat=True)
                )
                if due:
                    renewed += kind.model.objects.filter(pk__in=due).update(
                        locked_until=now + kind.lease
                    )
    return renewed


def leases_adopt(kind: str, pairs: list[tuple[int, int]]) -> None:
    """A worker takes over rows another process claimed (runs wait in the broker between
    the sweep's claim and a worker): record it as the holder, so its death frees them."""
    holder = lease_holder()
    if not holder or not pairs:
        return
    model = _KINDS[kind].model
    by_token: dict[int, list[int]] = {}
    for pk, token in pairs:
        by_token.setdefault(token, []).append(pk)
    for token, ids in by_token.items():
        model.objects.filter(_KINDS[kind].leased, pk__in=ids, lease_token=token).update(
            lease_holder=holder
        )
    leases_hold(kind, pairs)


def leases_release_held() -> int:
    """Give back what this process still holds at the end of a task: the task stopped
    before recording the work (an exception, a lost database connection). Not counted as an
    attempt: the work itself did not fail."""
    with _held_lock:
        held = {kind: dict(pairs) for kind, pairs in _held().items() if pairs}
    if not held:
        return 0
    for pause in (*RELEASE_PAUSES, None):
        try:
            if not connection.in_atomic_block:  # a broken connection is replaced
                connection.close_if_unusable_or_obsolete()
            freed = 0
            for kind, pairs in held.items():
                freed += _free_held(_KINDS[kind], pairs)
            _held_forget()
            if freed:
                logger.warning("gave back %s leases a failed task still held", freed)
            return freed
        except DatabaseError:
            if connection.in_atomic_block:  # not ours to close (an eager caller's transaction)
                raise
            connection.close()
            if pause is None:
                logger.warning("could not give back held leases; they run out", exc_info=True)
                _held_forget()
                return 0
            time.sleep(pause)
    return 0


def _free_held(kind: LeaseKind, pairs: dict[int, int]) -> int:
    with transaction.atomic():
        ids = [
            pk
            for pk, token in kind.model.objects.filter(kind.leased, pk__in=list(pairs))
            .select_for_update(skip_locked=True)
            .values_list("pk", "lease_token")
            if pairs.get(pk) == token
        ]
        if not ids:
            return 0
        return kind.free(ids, "the task holding it stopped (an error); handed on", False)


# The reaper ---------------------------------------------------------------------------------


def holders_alive() -> list[str]:
    """Holders whose heartbeat is recent (by the database's clock)."""
    return list(
        ProcessHeartbeat.objects.filter(
            kind=ProcessKind.WORKER, beat_at__gte=Now() - HOLDER_DEAD_AFTER
        ).values_list("holder", flat=True)
    )


def broker_lost_messages() -> bool:
    """True once after the broker lost what it held (a Redis flush or a restart without
    persistence): the sentinel key this sets is gone. Other brokers keep their messages."""
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return False
    from config.celery import app

    try:
        with app.pool.acquire(block=True, timeout=5) as conn:
            client = conn.default_channel.client
            return bool(client.set(BROKER_SENTINEL_KEY, "1", nx=True))
    except Exception:  # the broker is down: nothing to hand on through it yet
        logger.warning("broker unreachable from the reaper", exc_info=True)
        return False


def leases_reap(*, now: datetime | None = None, kinds: Iterable[str] | None = None) -> int:
    """Hand on the work of dead holders, of run-out leases and of lost broker messages;
    return how many rows went back to their queue."""
    now = now or timezone.now()
    chosen = [_KINDS[name] for name in kinds] if kinds is not None else list(_KINDS.values())
    alive = holders_alive() if _may_judge_others() else None
    lost = any(k.waits_in_broker for k in chosen) and broker_lost_messages()
    freed = 0
    for each in chosen:
        freed += _reap_kind(each, now=now, alive=alive, lost=lost and each.waits_in_broker)
    if kinds is None:  # beat's full round, not a sweep's look at its own kind
        _heartbeats_forget()
    return freed


# Why a row is handed on, and whether that counts as an attempt (a real failure).
DIED = ("its worker stopped beating (died); handed on", True)
EXPIRED_UNHELD = ("lease expired (worker stopped)", True)
EXPIRED_STALLED = ("lease ran out while its worker was stalled; handed on", False)
BROKER_LOST = ("the broker lost its message (Redis flushed); handed on", False)


def _reap_kind(kind: LeaseKind, *, now, alive: list[str] | None, lost: bool) -> int:
    """Hand on the rows of one kind. Only a death counts as an attempt: a holder whose
    heartbeat stopped, or a run-out lease with no holder to vouch for it (claimed outside
    a worker); a run-out lease whose holder still beats (it stalled) goes uncounted."""
    leased = kind.model.objects.filter(kind.leased)
    due = Q(locked_until__lt=now)
    if alive is not None:
        due |= ~Q(lease_holder="") & ~Q(lease_holder__in=alive)
    freed = 0
    with transaction.atomic():
        rows = list(
            leased.filter(due)
            .order_by("pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", "lease_holder")[:REAP_BATCH]
        )
        cases: dict[tuple[str, bool], list[int]] = {}
        for pk, holder in rows:
            if not holder:
                case = EXPIRED_UNHELD
            elif alive is not None and holder not in alive:
                case = DIED
            else:
                case = EXPIRED_STALLED
            cases.setdefault(case, []).append(pk)
        for case, ids in cases.items():
            freed += _hand_on(kind, ids, case)
    if lost:
        with transaction.atomic():
            ids = list(
                leased.order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:REAP_BATCH]
            )
            freed += _hand_on(kind, ids, BROKER_LOST)
    return freed


def _hand_on(kind: LeaseKind, ids: list[int], case: tuple[str, bool]) -> int:
    if not ids:
        return 0
    reason, counted = case
    logger.warning("%s: %s %s", kind.name, len(ids), reason)
    return kind.free(ids, reason, counted)


def _heartbeats_forget() -> None:
    ProcessHeartbeat.objects.filter(beat_at__lt=Now() - HEARTBEAT_FORGET_AFTER).delete()


def leases_reap_one(kind: str, *, now: datetime | None = None) -> int:
    """One kind's reaping (its own sweep calls this before claiming)."""
    return leases_reap(now=now, kinds=[kind])
