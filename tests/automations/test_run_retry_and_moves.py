"""Runs and the engine: a failed run retried, a step moved ahead of a run, an unsubscribe that
races a claimed run (cases an outside review of the engine found missing)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.automations.engine import run_advance, runs_retry
from apps.automations.models import Node, Run, RunStatus
from apps.automations.run_leases import runs_claim_due
from apps.automations.services import node_update
from apps.crm.dispatch import events_dispatch
from apps.crm.services import (
    subscriber_unsubscribe,
)
from tests.automations.helpers import add, build, on_tag, path, run_of, settle, tag, tags_of, wait
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def test_a_failed_run_can_be_retried_once_its_cause_is_fixed():
    flow = build(
        triggers=on_tag("Go"),
        steps=[
            {
                "kind": "webhook",
                "label": "notify",
                "settings": {"url": "http://127.0.0.1:9/x", "payload": "{{ subscriber.nickname }}"},
            },
            add("After"),
        ],
    )
    person = SubscriberFactory()
    tag(person, "Go")
    settle()
    assert run_of(flow, person).status == RunStatus.FAILED

    node_update(
        node=Node.objects.get(kind="webhook"),
        settings={"url": "http://127.0.0.1:9/x", "payload": "{{ subscriber.id }}"},
    )
    assert runs_retry(run_ids=[run_of(flow, person).pk]) == 1
    settle()

    run = run_of(flow, person)
    assert run.status == RunStatus.COMPLETED
    assert [s.outcome for s in run.steps.order_by("seq")] == ["failed", "passed", "passed"]
    assert "After" in tags_of(person)


def test_a_step_moved_ahead_of_a_run_is_executed_again_when_the_run_meets_it():
    flow = build(triggers=on_tag("Go"), steps=[add("First", "first"), wait(1, "days")])
    person = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tag(person, "Go")
        settle()
        first = Node.objects.get(label="first")
        node_update(node=first, settings=first.settings, position=5)  # now after the delay
        clock.shift(timedelta(days=1))
        settle()

    assert path(run_of(flow, person)) == ["first", "wait 1 days", "first"]
    assert run_of(flow, person).status == RunStatus.COMPLETED


def test_an_unsubscribe_that_races_a_claimed_run_ends_the_run():
    flow = build(triggers=on_tag("Go"), steps=[add("Done")])
    person = SubscriberFactory()
    tag(person, "Go")
    events_dispatch()
    ((run_id, token),) = runs_claim_due()
    subscriber_unsubscribe(subscriber=person)  # its event is not dispatched yet

    assert run_advance(run_id=run_id, token=token) == RunStatus.EXITED
    assert "Done" not in tags_of(person)
    assert Run.objects.get(pk=run_id).steps.get().detail == "unsubscribed"
    assert flow
