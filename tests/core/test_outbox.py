"""The one lease primitive (apps/core/outbox.py and the renewal in apps/core/leases.py): a
claim takes rows nobody holds, a finish wins only under its token, a worker renews what it
holds, and a lease that ran out while its worker lived is handed on without an attempt."""

import dataclasses
import logging
import os
from datetime import timedelta

import pytest
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from apps.automations.models import Run, RunStatus
from apps.core import leases, outbox
from apps.core.models import ProcessHeartbeat, ProcessKind
from apps.crm.delivery import (
    DELIVERIES_LEASE_KIND,
    DELIVERY_LEASE,
    deliveries_claim,
    webhook_delivery_attempt,
    webhook_delivery_enqueue,
)
from apps.crm.models import DeliveryAttempt, DeliveryStatus, WebhookDelivery
from tests.core.test_leases import _claimed_runs

pytestmark = pytest.mark.django_db

HOLDER = "worker:test:4:dddddd"


def _live_heartbeat() -> None:
    ProcessHeartbeat.objects.create(
        holder=HOLDER,
        kind=ProcessKind.WORKER,
        hostname="test",
        pid=4,
        started_at=timezone.now(),
        beat_at=Now(),
    )


@pytest.fixture
def as_worker(monkeypatch):
    """This test process plays a live, heartbeating worker (the test writes its beat)."""
    _live_heartbeat()
    monkeypatch.setitem(leases._process, "pid", os.getpid())
    monkeypatch.setitem(leases._process, "holder", HOLDER)
    monkeypatch.setitem(leases._process, "healthy_since", float("-inf"))
    yield HOLDER
    leases._held_forget()


def _deliveries(count: int) -> list[int]:
    for n in range(count):
        webhook_delivery_enqueue(key=f"k{n}", url="https://hooks.example.com/x", body="{}")
    return list(WebhookDelivery.objects.order_by("pk").values_list("pk", flat=True))


def test_backoff_is_one_formula_growing_by_its_factor_up_to_its_cap():
    base = timedelta(seconds=30)
    assert [outbox.backoff(attempts=n, base=base) for n in (1, 2, 3)] == [
        base,
        base * 2,
        base * 4,
    ]
    cap = timedelta(minutes=3)
    assert outbox.backoff(attempts=9, base=base, factor=3, cap=cap) == cap


def test_errors_are_stored_as_type_and_message_cut_to_one_length():
    assert outbox.error_text(ValueError("bad")) == "ValueError: bad"
    assert len(outbox.error_text("x" * 10_000)) == outbox.ERROR_MAX_CHARS


def test_drain_until_short_stops_at_the_first_short_batch_or_at_its_bound():
    sizes = iter([5, 5, 2, 5])
    assert outbox.drain_until_short(lambda limit: next(sizes), size=5, max_batches=10) == (
        12,
        False,
    )
    assert outbox.drain_until_short(lambda limit: limit, size=5, max_batches=3) == (15, True)
    assert outbox.drain_until_short(lambda limit: limit, size=5, max_batches=9, total_max=7) == (
        7,
        True,
    )


def test_a_claim_takes_each_row_once_with_a_token_a_holder_and_a_lease(as_worker):
    ids = _deliveries(3)

    first, second = deliveries_claim(limit=2), deliveries_claim(limit=2)

    assert [pk for pk, _ in first + second] == ids
    row = WebhookDelivery.objects.get(pk=ids[0])
    assert (row.status, row.lease_token, row.lease_holder) == (
        DeliveryStatus.SENDING,
        first[0][1],
        HOLDER,
    )
    assert row.locked_until > timezone.now() + DELIVERY_LEASE / 2
    assert leases.leases_held()[DELIVERIES_LEASE_KIND] == dict(first + second)


def test_a_worker_renews_the_leases_it_holds_and_only_those(as_worker):
    # given: two claimed deliveries, one of them handed on to another worker since
    ids = _deliveries(2)
    pairs = deliveries_claim(limit=2)
    soon = timezone.now() + timedelta(seconds=5)
    WebhookDelivery.objects.update(locked_until=soon)
    WebhookDelivery.objects.filter(pk=ids[1]).update(lease_token=pairs[1][1] + 1)

    # when: the heartbeat thread's renewal runs
    renewed = leases.leases_renew()

    # then: ours has a whole lease again; the other is not ours to renew
    assert renewed == 1
    assert WebhookDelivery.objects.get(pk=ids[0]).locked_until > soon + DELIVERY_LEASE / 2
    assert WebhookDelivery.objects.get(pk=ids[1]).locked_until == soon
    # a lease with more than two thirds left is not written again
    assert leases.leases_renew() == 0


def test_the_heartbeat_beats_at_least_every_third_of_the_shortest_lease(monkeypatch):
    kind = leases.lease_kind(DELIVERIES_LEASE_KIND)
    monkeypatch.setitem(
        leases._KINDS, "short", leases.LeaseKind(**{**vars(kind), "lease": timedelta(seconds=3)})
    )
    assert leases.heartbeat_interval() <= 1


def test_a_lease_that_ran_out_while_its_worker_lives_is_handed_on_without_an_attempt():
    # given: a claimed run whose holder beats, but whose lease ran out (a paused worker)
    (run_id,) = _claimed_runs(1)
    _live_heartbeat()
    Run.objects.filter(pk=run_id).update(lease_holder=HOLDER)

    # when
    assert leases.leases_reap(now=timezone.now() + timedelta(hours=1)) == 1

    # then: due again, no attempt counted: slowness is no failure
    run = Run.objects.get(pk=run_id)
    assert (run.status, run.attempts, run.lease_holder) == (RunStatus.WAITING, 0, "")
    assert "stalled" in run.last_error


def test_a_stalled_worker_that_lost_its_lease_writes_nothing_and_says_so(
    as_worker, caplog, monkeypatch
):
    # given: a worker claimed a delivery, stalled, and the delivery was handed on and
    # claimed again by another worker (a new token)
    _deliveries(1)
    ((pk, token),) = deliveries_claim(limit=1)
    WebhookDelivery.objects.filter(pk=pk).update(lease_token=token + 1)
    monkeypatch.setattr("apps.crm.delivery._post", lambda delivery: (200, "ok", ""))

    # when: the first worker wakes up and records its attempt
    with caplog.at_level(logging.WARNING, logger="apps.core.outbox"):
        status = webhook_delivery_attempt(delivery_id=pk, token=token)

    # then: refused and logged; the row is the other worker's, untouched
    assert status is None
    assert "lost the lease" in caplog.text
    row = WebhookDelivery.objects.get(pk=pk)
    assert (row.status, row.attempts) == (DeliveryStatus.SENDING, 0)
    assert not DeliveryAttempt.objects.exists()
    assert (
        DELIVERIES_LEASE_KIND not in leases.leases_held()
        or not (leases.leases_held()[DELIVERIES_LEASE_KIND])
    )


def test_a_finish_after_the_row_was_handed_on_mid_attempt_is_refused(as_worker, monkeypatch):
    # given: the lease is handed on while the POST is in flight
    _deliveries(1)
    ((pk, token),) = deliveries_claim(limit=1)

    def post_while_handed_on(delivery):
        WebhookDelivery.objects.filter(pk=pk).update(lease_token=token + 1)
        return 200, "ok", ""

    monkeypatch.setattr("apps.crm.delivery._post", post_while_handed_on)

    # when / then: the late result is not written, and no attempt row either
    assert webhook_delivery_attempt(delivery_id=pk, token=token) is None
    assert WebhookDelivery.objects.get(pk=pk).status == DeliveryStatus.SENDING
    assert not DeliveryAttempt.objects.exists()


# A command holding what it takes over (``lease_holding``) ---------------------------------------

SHORT_LEASE = timedelta(seconds=30)


def command_beats_with_a_short_lease(monkeypatch, settings, kind: str) -> None:
    """Heartbeats on, so a command beats as a worker does, and ``kind``'s lease cut to
    ``SHORT_LEASE`` (on the registered kind: the length is read from the settings at import).
    The heartbeat thread waits instead of beating: the test renews by calling
    ``leases_renew``, as a beat would, and never sleeps."""
    settings.WORKER_HEARTBEATS = True
    monkeypatch.setitem(
        leases._KINDS, kind, dataclasses.replace(leases.lease_kind(kind), lease=SHORT_LEASE)
    )
    monkeypatch.setattr(leases, "heartbeat_interval", lambda: 3600.0)


def beat_past_the_lease(traveller, kind: str, pk: int) -> None:
    """While the command works: the clock moves past the lease it took, its heartbeat's
    renewal comes in between, and the reaper then finds nothing of it to hand on."""
    model = leases.lease_kind(kind).model
    taken = model.objects.get(pk=pk)
    assert taken.lease_holder == leases.lease_holder() != ""
    traveller.shift(SHORT_LEASE / 2)
    assert leases.leases_renew() == 1
    traveller.shift(SHORT_LEASE * 3 / 4)
    assert timezone.now() > taken.locked_until  # the lease it took has run out
    leases.broker_lost_messages()  # the broker is seen: only the lease is judged
    assert leases.leases_reap(kinds=[kind]) == 0
    assert model.objects.get(pk=pk).lease_token == taken.lease_token


def _stopped(holder: str) -> bool:
    leases._process["thread"].join(timeout=30)
    thread_ended = not leases._process["thread"].is_alive()
    return thread_ended and not ProcessHeartbeat.objects.filter(holder=holder).exists()


def test_a_command_that_stops_on_an_error_gives_what_it_took_over_back_at_once(
    monkeypatch, settings, django_capture_on_commit_callbacks
):
    # given: a command holding a delivery it took over, heartbeats on
    command_beats_with_a_short_lease(monkeypatch, settings, DELIVERIES_LEASE_KIND)
    (pk,) = _deliveries(1)
    unfinished = Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING])

    # when: it stops on an error
    with (
        django_capture_on_commit_callbacks(),
        pytest.raises(RuntimeError),
        outbox.lease_holding() as holder,
    ):
        assert outbox.lease_take_over(DELIVERIES_LEASE_KIND, pk, unfinished=unfinished)
        assert WebhookDelivery.objects.get(pk=pk).lease_holder == holder != ""
        raise RuntimeError("stopped")

    # then: the delivery is back in its queue, and the command beats no more
    delivery = WebhookDelivery.objects.get(pk=pk)
    assert (delivery.status, delivery.lease_holder) == (DeliveryStatus.PENDING, "")
    assert not leases.leases_held().get(DELIVERIES_LEASE_KIND)
    assert _stopped(holder) and leases.lease_holder() == ""


def test_a_command_beats_only_with_heartbeats_on_and_a_worker_keeps_its_own(as_worker, settings):
    settings.WORKER_HEARTBEATS = True
    with outbox.lease_holding() as holder:
        assert holder == as_worker
    assert leases.lease_holder() == as_worker  # a worker's heartbeat is not stopped

    settings.WORKER_HEARTBEATS = False
    leases._process["pid"] = None  # not a worker now
    with outbox.lease_holding() as holder:
        assert holder == "" == leases.lease_holder()
