"""A worker stalled (SIGSTOP) for three lease lengths while it holds runs: another worker
finishes them, and when the first wakes (SIGCONT) it writes nothing and says it lost the lease.

Issue 16: a slow, starved or paused worker is not a dead one. Its leases run out and its work
is handed on, but no attempt is counted, so nothing fails for slowness. The worker is stopped
in the middle of advancing a chunk (its transaction holds the chunk's rows): PostgreSQL ends
a transaction left idle for ``DB_IDLE_IN_TRANSACTION_SECONDS``, which frees those rows too.
The test plays beat (the reaper, sweep and dispatch kicks) so it moves at test speed; it
judges holders dead only after ten minutes, so every hand-on here is the "lease ran out"
case, never the "worker died" one."""

import os
import re
import signal
import subprocess
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Count

from apps.automations.models import Run, RunStatus, RunStep
from apps.automations.run_leases import runs_reap
from apps.automations.tasks import runs_sweep
from apps.core import leases
from apps.crm.models import Event
from apps.crm.tasks import events_dispatch
from tests.integration.flows import STEPS_PER_RUN, five_step_flow_entered
from tests.processes import worker_env, worker_start, worker_stop, worker_stop_while_locked

RUNS = 300
LEASE_SECONDS = 3
STALL_SECONDS = 3 * LEASE_SECONDS
IDLE_IN_TRANSACTION_SECONDS = 4
# Generous bounds for a busy machine: nothing below waits for a delay, it polls.
DEADLINE_SECONDS = 240


def _start_worker(name: str, log) -> subprocess.Popen:
    return worker_start(
        name=name,
        log=log,
        env=worker_env(
            "worker-stall-test",
            RUN_LEASE_SECONDS=str(LEASE_SECONDS),
            DB_IDLE_IN_TRANSACTION_SECONDS=str(IDLE_IN_TRANSACTION_SECONDS),
        ),
    )


def _signal(worker: subprocess.Popen, sig: int) -> None:
    os.killpg(worker.pid, sig)


def _play_beat() -> None:
    runs_reap()
    runs_sweep.delay()
    events_dispatch.delay()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_stalled_worker_loses_its_runs_to_another_and_fails_none(
    broker, no_kick, monkeypatch, tmp_path
):
    # given: 300 subscribers enter a five-step flow, and a reaper that judges no holder dead
    monkeypatch.setattr(leases, "HOLDER_DEAD_AFTER", timedelta(minutes=10))
    five_step_flow_entered(people=RUNS, prefix="s")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with first_log.open("w") as out1, second_log.open("w") as out2:
        first = _start_worker("first", out1)
        second = None
        try:
            # when: the first worker is stopped in the middle of advancing a chunk of runs
            events_dispatch.delay()
            held = worker_stop_while_locked(
                first, Run.objects.filter(status=RunStatus.RUNNING), seconds=DEADLINE_SECONDS
            )
            assert held, f"never caught mid-advance: {first_log.read_text()[-3000:]}"
            stopped_at = time.monotonic()

            # ... a second worker takes over while the first stays stopped three leases long
            second = _start_worker("second", out2)
            deadline = stopped_at + DEADLINE_SECONDS
            while time.monotonic() < deadline:
                done = Run.objects.filter(status=RunStatus.COMPLETED).count()
                pending = Event.objects.filter(dispatched_at__isnull=True).exists()
                if done == RUNS and not pending and time.monotonic() - stopped_at >= STALL_SECONDS:
                    break
                _play_beat()
                time.sleep(0.5)
            finished_during_stall = Run.objects.filter(
                pk__in=held, status=RunStatus.COMPLETED
            ).count()

            # ... and then the first wakes up
            _signal(first, signal.SIGCONT)
            deadline = time.monotonic() + DEADLINE_SECONDS
            lost: set[int] = set()
            while time.monotonic() < deadline and not lost & held:
                out1.flush()
                lost = _lost_ids(first_log.read_text())
                time.sleep(0.2)
        finally:
            if first.poll() is None:
                _signal(first, signal.SIGCONT)
                worker_stop(first, sig=signal.SIGKILL)
            if second is not None:
                worker_stop(second, sig=signal.SIGKILL)

    # then: the second worker finished what the first held, during the stall
    assert finished_during_stall == len(held)
    # every run completed, none failed, and no attempt was counted against any
    assert Counter(Run.objects.values_list("status", flat=True)) == {RunStatus.COMPLETED: RUNS}
    assert not Run.objects.filter(attempts__gt=0).exists()
    # each step logged once, and each step's effect happened once
    per_run = Counter(
        RunStep.objects.values("run").annotate(n=Count("pk")).values_list("n", flat=True)
    )
    assert per_run == {STEPS_PER_RUN: RUNS}
    assert RunStep.objects.values("run", "node").distinct().count() == RUNS * STEPS_PER_RUN
    x_events = Event.objects.filter(payload__tag_name="X")
    assert x_events.filter(type="tag_add").count() == RUNS
    assert x_events.filter(type="tag_remove").count() == RUNS
    # the first worker's late writes were refused, and it said so for the runs it held
    assert lost & held, first_log.read_text()[-3000:]


def _lost_ids(log: str) -> set[int]:
    ids: set[int] = set()
    for match in re.finditer(r"runs ([\d,]+)(?: \.\.\.)?: lost the lease", log):
        ids.update(int(pk) for pk in match.group(1).split(","))
    return ids
