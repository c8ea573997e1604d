"""Settings for the launch bench's processes: ``config.settings`` plus a count of every query
and every task that each process runs.

``bench/launch.py`` starts gunicorn, the workers and beat with ``DJANGO_SETTINGS_MODULE`` set to
this module and ``BENCH_COUNTS_URL`` set to a Redis URL. Each process counts locally (one
function call per query, one per task) and adds its counts to the Redis hash named by
``BENCH_COUNTS_KEY`` every half second from a thread of its own, so the bench can read how
many queries and task hops the launch really took, batched as the workers batch them, rather
than what one purchase costs alone (``tests/scenarios/test_local_delivery.py`` counts that).

Hash fields: ``queries|<kind>`` and ``tasks|<task name>``; kinds as in ``_cpu.py``.
"""

import os
import sys
import threading
from collections import Counter

from _cpu import _kind
from celery.signals import task_prerun
from django.db.backends.signals import connection_created

from config.settings import *  # noqa: F403

BENCH_COUNTS_KEY = os.environ.get("BENCH_COUNTS_KEY", "bench:counts")
FLUSH_SECONDS = 0.5

_counts: Counter = Counter()
_lock = threading.Lock()
_flusher_pid: int | None = None


# This process's kind, named as bench/_cpu.py names it (the cmdline is the same in a forked
# child), read once rather than on every query.
_KIND = _kind(" ".join(sys.argv), "") or "other"


def _flush_forever() -> None:
    import redis

    client = redis.Redis.from_url(os.environ["BENCH_COUNTS_URL"])
    while True:
        threading.Event().wait(FLUSH_SECONDS)
        with _lock:
            batch = dict(_counts)
            _counts.clear()
        if batch:
            pipe = client.pipeline(transaction=False)
            for field, n in batch.items():
                pipe.hincrby(BENCH_COUNTS_KEY, field, n)
            pipe.execute()


def _count(field: str) -> None:
    """Count one, starting this process's flusher on first use (a forked child, such as a
    prefork worker's, has no thread of its parent's)."""
    global _flusher_pid
    with _lock:
        _counts[field] += 1
        if _flusher_pid != os.getpid():
            _flusher_pid = os.getpid()
            threading.Thread(target=_flush_forever, daemon=True).start()


def _query_counted(execute, sql, params, many, context):
    _count(f"queries|{_KIND}")
    return execute(sql, params, many, context)


def _connection_counted(sender, connection, **kwargs) -> None:
    if _query_counted not in connection.execute_wrappers:
        connection.execute_wrappers.append(_query_counted)


def _task_counted(sender=None, **kwargs) -> None:
    _count(f"tasks|{sender.name}")


if os.environ.get("BENCH_COUNTS_URL"):
    connection_created.connect(_connection_counted, weak=False)
    task_prerun.connect(_task_counted, weak=False)
