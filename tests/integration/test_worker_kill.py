"""A real worker process, killed with SIGKILL in the middle of 500 runs; another finishes them.

The test plays beat (reaper and sweep kicks) so it can move at test speed; the workers are real
``celery worker`` processes on Redis and PostgreSQL."""

import os
import signal
import subprocess
import time
from collections import Counter

import pytest
from django.conf import settings
from django.db.models import Count

from apps.automations.models import Run, RunStatus, RunStep
from apps.automations.run_leases import runs_reap
from apps.automations.tasks import runs_sweep
from apps.crm.models import Event
from apps.crm.tasks import events_dispatch
from tests.integration.flows import STEPS_PER_RUN, five_step_flow_entered
from tests.processes import worker_database_url, worker_start, worker_stop

RUNS = 500
LEASE_SECONDS = 3
DEADLINE_SECONDS = 180


def _start_worker(name: str) -> subprocess.Popen:
    return worker_start(
        name=name,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": "worker-kill-test",
            "DATABASE_URL": worker_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "RUN_LEASE_SECONDS": str(LEASE_SECONDS),
            "CONN_MAX_AGE": "0",
        },
    )


def _kill(worker: subprocess.Popen) -> None:
    worker_stop(worker, sig=signal.SIGKILL)


def _steps() -> int:
    return RunStep.objects.count()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_sigkilled_worker_loses_no_step_and_doubles_none(broker, no_kick):
    # given: 500 subscribers tagged in one transaction, nobody has processed anything yet
    five_step_flow_entered(people=RUNS, prefix="k")
    first = _start_worker("first")
    stopped_at = None
    try:
        # when: the first worker is killed part-way through
        events_dispatch.delay()
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline and _steps() < RUNS // 2:
            if first.poll() is not None:
                pytest.fail(f"the first worker exited by itself: {first.stderr.read()[-2000:]}")
            time.sleep(0.01)
        _kill(first)
        stopped_at = _steps()
        held_at_kill_ids = list(
            Run.objects.filter(status=RunStatus.RUNNING).values_list("pk", flat=True)
        )
        held_at_kill = len(held_at_kill_ids)
        unfinished = Run.objects.exclude(status=RunStatus.COMPLETED).count()
        assert 0 < stopped_at < RUNS * STEPS_PER_RUN, "the kill should land mid-way"
        assert unfinished > 0

        second = _start_worker("second")
        try:
            # then: playing beat, the second worker finishes everything
            deadline = time.monotonic() + DEADLINE_SECONDS
            while time.monotonic() < deadline:
                done = Run.objects.filter(status=RunStatus.COMPLETED).count()
                pending = Event.objects.filter(dispatched_at__isnull=True).count()
                if done == RUNS and not pending:
                    break
                runs_reap()
                runs_sweep.delay()
                events_dispatch.delay()
                time.sleep(0.5)
        finally:
            _kill(second)
    finally:
        if first.poll() is None:
            _kill(first)

    assert Counter(Run.objects.values_list("status", flat=True)) == {RunStatus.COMPLETED: RUNS}
    per_run = Counter(
        RunStep.objects.values("run").annotate(n=Count("pk")).values_list("n", flat=True)
    )
    assert per_run == {STEPS_PER_RUN: RUNS}
    assert RunStep.objects.values("run", "node").distinct().count() == RUNS * STEPS_PER_RUN
    # Each step's effect happened once: one add and one remove of X per person, no crash.
    x_events = Event.objects.filter(payload__tag_name="X")
    assert x_events.filter(type="tag_add").count() == RUNS
    assert x_events.filter(type="tag_remove").count() == RUNS
    assert not Run.objects.filter(last_error__contains="IntegrityError").exists()
    # The runs claimed when the worker died (held = still running at the kill) were handed
    # on, not lost: by the reaper once their lease ran out, or by the broker redelivering
    # the dead worker's unacknowledged chunks before it (which of the two depends on timing:
    # with runs advanced a chunk per transaction, the second worker often wins; the reaper's
    # own behaviour is tested in tests/automations/test_engine_semantics.py).
    assert held_at_kill > 0
    assert Run.objects.filter(pk__in=held_at_kill_ids, status=RunStatus.COMPLETED).count() == (
        held_at_kill
    )
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()
