import threading
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from apps.crm import dispatch
from apps.crm.events import event_record, events_record_bulk
from apps.crm.models import Event
from apps.crm.tasks import events_dispatch as events_dispatch_task
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def _events(n: int, type_: str = "test_event") -> list[int]:
    subscriber = SubscriberFactory()
    events_record_bulk(events=[(subscriber.pk, type_, {"n": i}) for i in range(n)])
    return list(Event.objects.order_by("pk").values_list("pk", flat=True))


def test_every_consumer_gets_the_events_it_asked_for_and_they_are_marked(recording_consumer):
    # given
    received = recording_consumer("all")
    recording_consumer("only_b", event_types=["b"])
    subscriber = SubscriberFactory()
    a = event_record(subscriber_id=subscriber.pk, type="a")
    b = event_record(subscriber_id=subscriber.pk, type="b")

    # when
    with transaction.atomic():
        claimed = dispatch.events_dispatch()
    # Recording happens on commit; the test transaction wraps everything, so flush by hand.
    for callback in _pending_callbacks():
        callback()

    # then
    assert claimed == 2
    assert sorted(received) == sorted([("all", a.pk), ("all", b.pk), ("only_b", b.pk)])
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()
    assert dispatch.events_dispatch() == 0


def _pending_callbacks():
    callbacks = [func for _sids, func, _robust in connection.run_on_commit]
    connection.run_on_commit = []
    return callbacks


def test_one_transaction_rings_the_dispatcher_once(django_capture_on_commit_callbacks):
    subscriber = SubscriberFactory()
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        for i in range(5):
            event_record(subscriber_id=subscriber.pk, type="x", payload={"i": i})
        events_record_bulk(events=[(subscriber.pk, "y", {})] * 3)
    assert len(callbacks) == 1


def test_a_commit_dispatches_without_a_manual_call(
    recording_consumer, django_capture_on_commit_callbacks
):
    received = recording_consumer("all")
    subscriber = SubscriberFactory()

    with django_capture_on_commit_callbacks(execute=True):
        event = event_record(subscriber_id=subscriber.pk, type="x")

    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert received == [("all", event.pk)]


def test_a_poison_event_is_set_aside_and_the_rest_of_its_batch_goes_through():
    # given: a consumer that fails on one event in five
    ids = _events(5)
    bad = ids[2]
    seen = Counter()

    def handle(events):
        for event in events:
            if event.pk == bad:
                raise RuntimeError("cannot handle this one")
        seen.update(e.pk for e in events)

    dispatch.consumer_register(name="picky", handle=handle)
    try:
        # when
        dispatch.events_dispatch()
    finally:
        dispatch.consumer_unregister(name="picky")

    # then: the good four are dispatched; the bad one waits for a retry with its error
    assert set(Event.objects.filter(dispatched_at__isnull=False).values_list("pk", flat=True)) == (
        set(ids) - {bad}
    )
    poison = Event.objects.get(pk=bad)
    assert poison.attempts == 1
    assert "cannot handle this one" in poison.last_error
    assert poison.next_attempt_at > timezone.now()


def test_a_poison_event_gives_up_after_the_last_attempt():
    (event_id,) = _events(1)

    def handle(events):
        raise RuntimeError("always broken")

    dispatch.consumer_register(name="broken", handle=handle)
    try:
        with time_machine.travel(timezone.now(), tick=False) as traveller:
            for _ in range(dispatch.EVENT_MAX_ATTEMPTS):
                dispatch.events_dispatch()
                traveller.shift(timedelta(seconds=dispatch.EVENT_RETRY_MAX_SECONDS + 1))
            dispatch.events_dispatch()
    finally:
        dispatch.consumer_unregister(name="broken")

    event = Event.objects.get(pk=event_id)
    assert event.attempts == dispatch.EVENT_MAX_ATTEMPTS
    assert event.failed_at is not None
    assert event.dispatched_at is None


@pytest.mark.django_db(transaction=True)
def test_events_of_a_rolled_back_batch_are_dispatched_by_the_next_sweep(
    recording_consumer, monkeypatch, no_kick
):
    # given: the batch's final write dies (as a killed worker's would), after consumers ran
    received = recording_consumer("counter")
    ids = _events(30)
    real_update = type(Event.objects.all()).update
    crashes = {"left": 1}

    def crashing_update(self, **kwargs):
        if "dispatched_at" in kwargs and crashes["left"]:
            crashes["left"] -= 1
            raise SystemExit("worker killed")  # not an Exception: nothing in the batch catches it
        return real_update(self, **kwargs)

    monkeypatch.setattr(type(Event.objects.all()), "update", crashing_update)

    # when
    with pytest.raises(SystemExit):
        dispatch.events_dispatch()
    assert Event.objects.filter(dispatched_at__isnull=True).count() == 30
    assert received == []
    events_dispatch_task.delay()  # what beat runs every few seconds

    # then: each event reached the consumer exactly once
    assert sorted(i for _, i in received) == ids
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_deliver_every_event_to_every_consumer_exactly_once(
    recording_consumer, no_kick
):
    # given
    received = recording_consumer("first")
    recording_consumer("second")
    ids = _events(1000)
    barrier = threading.Barrier(2)
    claimed = []

    def run():
        try:
            barrier.wait()
            claimed.append(dispatch.events_dispatch(batch_size=25, max_batches=1000))
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # then
    counts = Counter(received)
    assert set(counts) == {(name, i) for name in ("first", "second") for i in ids}
    assert set(counts.values()) == {1}
    assert sum(claimed) == 1000
    assert all(c > 0 for c in claimed), "both dispatchers should have shared the work"
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_commits_queues_one_dispatch_until_it_runs(monkeypatch):
    """Fifty commits that write events ring the dispatcher once while its task waits in
    the broker (the launch filled the queue with one doorbell per commit)."""
    from apps.crm import tasks

    queued = []
    monkeypatch.setattr(tasks.events_dispatch, "apply_async", lambda **kw: queued.append(1))
    person = SubscriberFactory()

    for _ in range(50):
        with transaction.atomic():
            event_record(subscriber_id=person.pk, type="subscriber_activate")
    assert len(queued) == 1

    tasks.events_dispatch()  # the worker takes it: a later commit rings again
    with transaction.atomic():
        event_record(subscriber_id=person.pk, type="subscriber_activate")
    assert len(queued) == 2
