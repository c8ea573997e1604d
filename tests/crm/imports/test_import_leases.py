"""CSV imports on the shared lease primitive: a worker holds the import while it works, the
reaper hands on the import of a dead worker in seconds, a stalled worker's late batch is
refused, and the next worker resumes at the next batch."""

import io
import logging
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from apps.core import leases
from apps.crm.imports import leases as import_leases
from apps.crm.imports import services
from apps.crm.management.commands import subscribers_import
from apps.crm.models import ImportStatus, Subscriber, SubscriberImport
from tests.core.test_leases import ALIVE, DEAD, _heartbeat
from tests.core.test_outbox import _stopped, beat_past_the_lease, command_beats_with_a_short_lease

pytestmark = pytest.mark.django_db


def _queued(count: int) -> SubscriberImport:
    lines = "\n".join(f"p{n}@example.com,P{n}" for n in range(count))
    imp = services.subscriber_import_create(
        data=f"email,name\n{lines}\n".encode(), filename="people.csv"
    )
    return services.subscriber_import_start(subscriber_import=imp, enqueue=False)


@pytest.fixture
def sent(monkeypatch):
    """The run messages the dispatcher sends, kept instead of run (a worker takes them)."""
    messages: list[tuple[int, int]] = []
    monkeypatch.setattr(import_leases, "_run_send", lambda pk, token: messages.append((pk, token)))
    return messages


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(services, "IMPORT_BATCH_SIZE", 2)


def test_the_dispatcher_leases_queued_imports_and_sends_each_with_its_token(sent, monkeypatch):
    # given: three queued imports and room for two
    monkeypatch.setattr(import_leases, "IMPORTS_RUNNING_MAX", 2)
    first, second, third = (_queued(1) for _ in range(3))

    # when
    dispatched = import_leases.subscriber_imports_dispatch()

    # then: the two oldest are running under a lease, sent with their tokens; the third
    # waits in the database until there is room
    assert dispatched == 2 and import_leases.subscriber_imports_dispatch() == 0
    rows = {r.pk: r for r in SubscriberImport.objects.all()}
    assert sent == [
        (first.pk, rows[first.pk].lease_token),
        (second.pk, rows[second.pk].lease_token),
    ]
    assert rows[first.pk].status == rows[second.pk].status == ImportStatus.RUNNING
    assert rows[first.pk].locked_until > timezone.now() + timedelta(minutes=4)
    assert rows[third.pk].status == ImportStatus.QUEUED


def test_a_worker_runs_the_import_under_its_token_and_ends_the_lease(sent, small_batches):
    imp = _queued(5)
    import_leases.subscriber_imports_dispatch()
    ((pk, token),) = sent

    done = services.subscriber_import_run(import_id=pk, token=token)

    assert (done.status, done.batches_done, done.created_count) == (ImportStatus.DONE, 3, 5)
    assert (done.locked_until, done.lease_holder) == (None, "")
    assert Subscriber.objects.count() == 5 and done.pk == imp.pk


def test_a_dead_workers_import_is_handed_on_at_once_and_resumes_at_its_next_batch(
    sent, small_batches, django_capture_on_commit_callbacks
):
    # given: a worker ran the first batch of three, then died (its heartbeat stopped)
    imp = _queued(5)
    import_leases.subscriber_imports_dispatch()
    ((pk, token),) = sent
    progress = []

    def die_after_the_first_batch(current):
        progress.append(current.batches_done)
        raise KeyboardInterrupt  # the process stops dead here

    with pytest.raises(KeyboardInterrupt):
        services.subscriber_import_run(
            import_id=pk, token=token, on_progress=die_after_the_first_batch
        )
    _heartbeat(DEAD, age_seconds=settings.WORKER_DEAD_AFTER_SECONDS + 5)
    SubscriberImport.objects.filter(pk=pk).update(lease_holder=DEAD)

    # when: the reaper looks, long before the lease runs out
    with django_capture_on_commit_callbacks(execute=True):
        freed = leases.leases_reap()

    # then: queued again and sent to another worker under a new token
    assert freed == 1 and progress == [1]
    assert len(sent) == 2 and sent[1][0] == pk and sent[1][1] != token
    row = SubscriberImport.objects.get(pk=pk)
    assert (row.status, row.batches_done) == (ImportStatus.RUNNING, 1)

    # and the next worker resumes at the second batch, the first never written twice
    written_before = Subscriber.objects.count()
    done = services.subscriber_import_run(import_id=pk, token=sent[1][1])
    assert written_before == 2
    assert (done.status, done.batches_done, done.created_count, done.rows_done) == (
        ImportStatus.DONE,
        3,
        5,
        5,
    )
    assert Subscriber.objects.count() == 5 and done.pk == imp.pk


def test_a_stalled_worker_whose_lease_was_handed_on_writes_no_further_batch(
    sent, small_batches, caplog
):
    # given: a worker stalled after its first batch; its lease ran out while it still beat,
    # the reaper handed the import on (uncounted) and another worker claimed it
    _queued(5)
    import_leases.subscriber_imports_dispatch()
    ((pk, token),) = sent
    _heartbeat(ALIVE, age_seconds=0)

    def stall_and_lose_the_lease(current):
        if current.batches_done == 1:
            SubscriberImport.objects.filter(pk=pk).update(lease_holder=ALIVE)
            assert leases.leases_reap(now=timezone.now() + timedelta(hours=1)) == 1
            assert import_leases.subscriber_imports_dispatch() == 1

    # when: it wakes and goes on
    with caplog.at_level(logging.WARNING, logger="apps.core.outbox"):
        late = services.subscriber_import_run(
            import_id=pk, token=token, on_progress=stall_and_lose_the_lease
        )

    # then: its second batch was refused and logged; the import is the new worker's
    assert "lost the lease" in caplog.text
    assert (late.status, late.batches_done) == (ImportStatus.RUNNING, 1)
    assert Subscriber.objects.count() == 2
    new_token = sent[1][1]
    assert late.lease_token == new_token != token
    # and the new holder finishes it from the second batch
    done = services.subscriber_import_run(import_id=pk, token=new_token)
    assert (done.status, done.created_count) == (ImportStatus.DONE, 5)


def test_a_stale_message_for_an_import_taken_over_does_nothing(sent, caplog):
    _queued(2)
    import_leases.subscriber_imports_dispatch()
    ((pk, token),) = sent
    SubscriberImport.objects.filter(pk=pk).update(lease_token=token + 1)

    with caplog.at_level(logging.WARNING, logger="apps.core.outbox"):
        row = services.subscriber_import_run(import_id=pk, token=token)

    assert "lost the lease" in caplog.text
    assert (row.status, row.started_at, row.batches_done) == (ImportStatus.RUNNING, None, 0)
    assert not Subscriber.objects.exists()


@pytest.mark.redis
def test_an_import_sent_to_a_broker_that_lost_its_messages_is_sent_again(sent):
    from config.celery import app

    _queued(1)
    import_leases.subscriber_imports_dispatch()
    ((pk, token),) = sent
    leases.broker_lost_messages()

    with app.pool.acquire(block=True) as conn:
        conn.default_channel.client.delete(leases.BROKER_SENTINEL_KEY)
    freed = leases.leases_reap()

    assert freed == 1
    assert SubscriberImport.objects.get(pk=pk).status == ImportStatus.QUEUED
    assert import_leases.subscriber_imports_dispatch() == 1 and sent[1][0] == pk


def test_the_command_holds_its_import_as_a_worker_does_past_the_lease(
    tmp_path, monkeypatch, small_batches, caplog, settings
):
    # given: heartbeats on, a short lease, and beat's clock moving past it after a batch
    command_beats_with_a_short_lease(monkeypatch, settings, import_leases.IMPORTS_LEASE_KIND)
    path = tmp_path / "people.csv"
    path.write_text("email\n" + "".join(f"p{n}@example.com\n" for n in range(4)))
    bar, holders = subscribers_import.Command._bar, []

    with time_machine.travel(timezone.now(), tick=False) as traveller:

        def bar_then_beat(command, imp):
            bar(command, imp)
            if imp.batches_done == 1:
                holders.append(leases.lease_holder())
                beat_past_the_lease(traveller, import_leases.IMPORTS_LEASE_KIND, imp.pk)

        monkeypatch.setattr(subscribers_import.Command, "_bar", bar_then_beat)

        # when
        with caplog.at_level(logging.WARNING, logger="apps.core.outbox"):
            call_command(
                "subscribers_import", str(path), stdout=io.StringIO(), stderr=io.StringIO()
            )

    # then: its heartbeat kept the lease, so the command imported to the end, and it stopped
    # beating when it was done
    imp = SubscriberImport.objects.get()
    assert (imp.status, imp.rows_done, imp.lease_holder) == (ImportStatus.DONE, 4, "")
    assert Subscriber.objects.count() == 4 and "lost the lease" not in caplog.text
    (holder,) = holders
    assert _stopped(holder) and leases.lease_holder() == ""
