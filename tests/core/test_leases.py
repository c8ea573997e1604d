"""The lease primitive: work held by a dead worker, lost with the broker, or left by a failed
task goes back to its queue at once, without waiting out the lease."""

import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models.functions import Now
from django.utils import timezone

from apps.automations.models import Run, RunStatus
from apps.automations.run_leases import runs_claim_due
from apps.core import leases
from apps.core.models import ProcessHeartbeat, ProcessKind
from apps.crm.dispatch import events_dispatch
from apps.crm.messaging.outbox import emails_enqueue
from apps.crm.messaging.rendering import Draft
from apps.crm.messaging.sending import email_claim_next
from apps.crm.models import EmailMessage, EmailStatus
from tests.automations.helpers import add, build, on_tag, tag
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

DEAD, ALIVE = "worker:gone:1:aaaaaa", "worker:here:2:bbbbbb"


def _heartbeat(holder: str, *, age_seconds: float) -> None:
    ProcessHeartbeat.objects.create(
        holder=holder,
        kind=ProcessKind.WORKER,
        hostname=holder.split(":")[1],
        pid=1,
        started_at=timezone.now(),
        beat_at=timezone.now(),
    )
    ProcessHeartbeat.objects.filter(holder=holder).update(
        beat_at=Now() - timedelta(seconds=age_seconds)
    )


def _claimed_runs(count: int) -> list[int]:
    build(triggers=on_tag("Go"), steps=[add("Done")])
    for _ in range(count):
        tag(SubscriberFactory(), "Go")
    events_dispatch()
    return [run_id for run_id, _ in runs_claim_due()]


@pytest.fixture
def as_worker(monkeypatch):
    """This test process plays a heartbeating worker (no thread: the test writes its rows)."""
    holder = "worker:test:3:cccccc"
    _heartbeat(holder, age_seconds=0)
    monkeypatch.setitem(leases._process, "pid", os.getpid())
    monkeypatch.setitem(leases._process, "holder", holder)
    monkeypatch.setitem(leases._process, "healthy_since", float("-inf"))
    yield holder
    leases._held_forget()


def test_a_dead_workers_runs_are_handed_on_long_before_their_lease_runs_out():
    # given: three claimed runs (5-minute leases), held by a dead, a live and no worker
    dead_run, live_run, unheld_run = _claimed_runs(3)
    _heartbeat(DEAD, age_seconds=settings.WORKER_DEAD_AFTER_SECONDS + 5)
    _heartbeat(ALIVE, age_seconds=1)
    Run.objects.filter(pk=dead_run).update(lease_holder=DEAD)
    Run.objects.filter(pk=live_run).update(lease_holder=ALIVE)

    # when
    freed = leases.leases_reap()

    # then: only the dead worker's run is back in the queue, due now, with an attempt counted
    assert freed == 1
    run = Run.objects.get(pk=dead_run)
    assert (run.status, run.lease_holder, run.attempts) == (RunStatus.WAITING, "", 1)
    assert "stopped beating" in run.last_error
    assert set(
        Run.objects.filter(pk__in=[live_run, unheld_run]).values_list("status", flat=True)
    ) == {RunStatus.RUNNING}


def test_a_lease_that_ran_out_is_still_reaped_whoever_holds_it():
    (run_id,) = _claimed_runs(1)
    _heartbeat(ALIVE, age_seconds=0)
    Run.objects.filter(pk=run_id).update(lease_holder=ALIVE)

    assert leases.leases_reap(now=timezone.now() + timedelta(hours=1)) == 1
    assert Run.objects.get(pk=run_id).status == RunStatus.WAITING


def test_after_its_own_heartbeat_failed_a_worker_does_not_judge_others_dead_at_once(as_worker):
    # given: a database outage just ended: every other worker's beat is stale for now
    (run_id,) = _claimed_runs(1)
    _heartbeat(DEAD, age_seconds=60)
    Run.objects.filter(pk=run_id).update(lease_holder=DEAD)
    leases._process["healthy_since"] = leases.time.monotonic()

    # when / then: nobody is judged dead until our own beats have gone through for a while
    assert leases.leases_reap() == 0
    leases._process["healthy_since"] -= settings.WORKER_DEAD_AFTER_SECONDS
    assert leases.leases_reap() == 1


@pytest.mark.redis
def test_runs_whose_messages_a_flushed_broker_lost_are_handed_on_without_an_attempt():
    # given: runs claimed and handed to the broker, and the broker seen once by the reaper
    from config.celery import app

    run_ids = _claimed_runs(2)
    leases.broker_lost_messages()
    assert leases.leases_reap() == 0

    # when: the broker loses everything (FLUSHDB or a restart without persistence)
    with app.pool.acquire(block=True) as conn:
        conn.default_channel.client.delete(leases.BROKER_SENTINEL_KEY)
    freed = leases.leases_reap()

    # then: the runs are due again at once; losing a message is no failure of theirs
    assert freed == 2
    runs = Run.objects.filter(pk__in=run_ids)
    assert {(r.status, r.attempts) for r in runs} == {(RunStatus.WAITING, 0)}
    assert leases.leases_reap() == 0


def _one_email():
    person = SubscriberFactory()
    emails_enqueue([Draft(subscriber=person, key="k", kind="automation", subject="S", body="B")])
    return EmailMessage.objects.get()


def test_a_task_that_failed_gives_back_the_email_it_held_marked_uncertain(as_worker):
    # given: this worker claimed an email, then its task failed before recording the send
    message = _one_email()
    claimed, _ = email_claim_next()
    assert EmailMessage.objects.get(pk=claimed.pk).lease_holder == as_worker

    # when: the task ends (Celery's task_postrun)
    released = leases.leases_release_held()

    # then: queued again at once, marked uncertain (the SMTP server may have it)
    message.refresh_from_db()
    assert released == 1
    assert (message.status, message.uncertain, message.attempts) == (EmailStatus.QUEUED, True, 0)
    assert leases.leases_release_held() == 0


def test_a_task_that_finished_its_work_gives_nothing_back(as_worker):
    from apps.crm.messaging.sending import emails_send

    _one_email()
    assert emails_send() == 1
    assert leases.leases_release_held() == 0
    assert EmailMessage.objects.get().status == EmailStatus.SENT


def test_a_worker_that_takes_claimed_runs_from_the_broker_becomes_their_holder(as_worker):
    (run_id,) = _claimed_runs(1)
    token = Run.objects.get(pk=run_id).lease_token

    leases.leases_adopt("runs", [(run_id, token), (run_id + 1000, token)])

    assert Run.objects.get(pk=run_id).lease_holder == as_worker


def test_heartbeat_rows_of_processes_gone_an_hour_are_forgotten():
    _heartbeat(DEAD, age_seconds=2 * 3600)
    _heartbeat(ALIVE, age_seconds=1)
    leases.leases_reap()
    assert list(ProcessHeartbeat.objects.values_list("holder", flat=True)) == [ALIVE]


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_beats_from_a_thread_and_removes_its_row_on_a_clean_stop():
    holder = leases.heartbeat_start()
    try:
        assert leases.lease_holder() == holder
        row = ProcessHeartbeat.objects.get(holder=holder)
        assert (row.kind, row.pid) == (ProcessKind.WORKER, os.getpid())
        assert holder in leases.holders_alive()
    finally:
        thread = leases._process["thread"]
        leases.heartbeat_stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert not ProcessHeartbeat.objects.filter(holder=holder).exists()
    assert leases.lease_holder() == ""
