"""The one lease primitive (apps/core/outbox.py and the renewal in apps/core/leases.py): a
claim takes rows nobody holds, a finish wins only under its token, a worker renews what it
holds, and a lease that ran out while its worker lived is handed on without an attempt."""

import logging
import os
from datetime import timedelta

import pytest
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
