"""Doorbells: tasks that say "there is work, drain it", queued at most once at a time.

A commit that wrote events, due runs, deliveries or emails rings a worker after it commits.
The task it starts drains everything pending, so one queued ring per kind is enough: under a
launch, ringing once per commit filled the broker's one queue with thousands of identical
doorbells ahead of the real work (the launch bench saw over 10,000). A ring sets a short-lived
flag in the cache and queues the task only if the flag was not already set; the task clears
the flag as it starts, before it reads any work, so a commit after that rings again and
nothing committed is left without a ring. If a ring's message is lost, the flag expires and
the beat sweeps cover the gap, as they always did.

A rung task starts DOORBELL_DELAY_SECONDS after the first ring, not at once: the work that
arrives meanwhile joins the same batch. At a launch's steady 30 purchases a second, a task per
purchase per hop cost more CPU in task overhead (the broker, the claim, the connection check)
than in the work; half a second per hop is nothing against a flow measured in minutes.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

# Long enough to coalesce a burst; short enough that a lost message delays little.
DOORBELL_TTL_SECONDS = 15
_NAMES: set[str] = set()


def _key(name: str) -> str:
    return f"tessera:doorbell:{name}"


def doorbell_ring(task, *, at_once: bool = False) -> None:
    """Queue ``task`` (a Celery task taking no arguments) unless a ring is already queued.
    ``at_once``: a task that stopped at its bound with work left carries on without the
    delay (the batch is full already)."""
    _NAMES.add(task.name)
    try:
        if not cache.add(_key(task.name), 1, timeout=DOORBELL_TTL_SECONDS):
            return
    except Exception:  # a cache that cannot be reached must not silence the bell
        logger.warning("doorbell cache unavailable; ringing %s anyway", task.name, exc_info=True)
    task.apply_async(countdown=None if at_once else settings.DOORBELL_DELAY_SECONDS or None)


def doorbell_answer(name: str) -> None:
    """The rung task starts: from now on a new ring queues a new task."""
    try:
        cache.delete(_key(name))
    except Exception:
        logger.warning("doorbell cache unavailable while answering %s", name, exc_info=True)


def doorbell_drain(task, batch: Callable[[], tuple[int, bool]]) -> int:
    """A rung task's body: answer the bell, run one bounded ``batch`` (which returns how much
    it did and whether it stopped at its bound), and carry on at once if work is left."""
    doorbell_answer(task.name)
    done, more = batch()
    if more:
        doorbell_ring(task, at_once=True)
    return done


def doorbells_reset() -> None:
    """Forget every queued ring (tests purge the broker between cases)."""
    cache.delete_many([_key(name) for name in _NAMES])
