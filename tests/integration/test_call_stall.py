"""A worker stalled (SIGSTOP) for three lease lengths in the middle of a batch of inbound
webhook calls: another worker runs them, and when the first wakes (SIGCONT) it writes
nothing and says it lost the lease.

A batch of calls is claimed for the length of its transaction (the row lock is its lease):
PostgreSQL ends a transaction left idle for ``DB_IDLE_IN_TRANSACTION_SECONDS``, which frees
the calls for the second worker and refuses the first's writes when it wakes."""

import json
import os
import re
import signal
import subprocess
import time
from collections import Counter

import pytest

from apps.members.models import CallStatus, Member, Operation, WebhookCall
from apps.members.services import endpoint_mint
from apps.members.tasks import webhook_calls_process
from apps.offerings.models import AccessGrant
from tests.offerings.helpers import weekly_course
from tests.processes import worker_env, worker_start, worker_stop, worker_stop_while_locked

CALLS = 300
IDLE_IN_TRANSACTION_SECONDS = 4
STALL_SECONDS = 3 * IDLE_IN_TRANSACTION_SECONDS
DEADLINE_SECONDS = 240


def _worker(name: str, log) -> subprocess.Popen:
    return worker_start(
        name=name,
        log=log,
        env=worker_env(
            "call-stall",
            DB_IDLE_IN_TRANSACTION_SECONDS=str(IDLE_IN_TRANSACTION_SECONDS),
            WORKER_DEAD_AFTER_SECONDS="600",
        ),
    )


def _lost_ids(log: str) -> set[int]:
    ids: set[int] = set()
    for match in re.finditer(r"webhook calls ([\d,]+)(?: \.\.\.)?: lost the lease", log):
        ids.update(int(pk) for pk in match.group(1).split(","))
    return ids


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_stalled_worker_loses_its_calls_to_another_and_runs_each_once(
    client, broker, no_kick, tmp_path
):
    # given: 300 accepted Release calls, no worker running yet
    release = endpoint_mint(operation=Operation.RELEASE, offering=weekly_course())
    for i in range(CALLS):
        response = client.post(
            release.path, json.dumps({"email": f"c{i}@example.com"}), "application/json"
        )
        assert response.status_code == 202, response.content
    first_log = tmp_path / "first.log"
    with first_log.open("w") as out1, (tmp_path / "second.log").open("w") as out2:
        first = _worker("first", out1)
        second = None
        try:
            # when: the first worker is stopped in the middle of a batch
            webhook_calls_process.delay()
            held = worker_stop_while_locked(
                first,
                WebhookCall.objects.filter(status=CallStatus.ACCEPTED),
                seconds=DEADLINE_SECONDS,
            )
            assert held, f"never caught mid-batch: {first_log.read_text()[-3000:]}"
            stopped_at = time.monotonic()

            # ... a second worker runs every call while the first stays stopped
            second = _worker("second", out2)
            deadline = stopped_at + DEADLINE_SECONDS
            while time.monotonic() < deadline and (
                WebhookCall.objects.filter(status=CallStatus.ACCEPTED).exists()
                or time.monotonic() - stopped_at < STALL_SECONDS
            ):
                webhook_calls_process.delay()
                time.sleep(0.5)
            done_during_stall = WebhookCall.objects.filter(
                pk__in=held, status=CallStatus.DONE
            ).count()

            # ... and the first wakes up
            os.killpg(first.pid, signal.SIGCONT)
            deadline = time.monotonic() + DEADLINE_SECONDS
            lost: set[int] = set()
            while time.monotonic() < deadline and not lost & held:
                out1.flush()
                lost = _lost_ids(first_log.read_text())
                time.sleep(0.2)
        finally:
            if first.poll() is None:
                os.killpg(first.pid, signal.SIGCONT)
                worker_stop(first, sig=signal.SIGKILL)
            if second is not None:
                worker_stop(second, sig=signal.SIGKILL)

    # then: the second worker ran the calls the first held, during the stall
    assert done_during_stall == len(held)
    # every call ran once: done, one member and one grant per buyer, none failed
    assert Counter(WebhookCall.objects.values_list("status", flat=True)) == {CallStatus.DONE: CALLS}
    assert Member.objects.count() == CALLS
    assert AccessGrant.objects.count() == CALLS
    # the first worker's late writes were refused, and it said so for the calls it held
    assert lost & held, first_log.read_text()[-3000:]
