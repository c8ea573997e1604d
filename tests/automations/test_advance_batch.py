"""A chunk of claimed runs advances in one transaction with batched writes, and one run that
breaks costs only itself: the chunk is redone run by run."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.automations.engine import runs_advance, runs_claim_due
from apps.automations.models import RunStatus
from apps.automations.nodes import TagKind
from apps.crm.dispatch import events_dispatch
from apps.crm.models import Event
from tests.automations.helpers import add, build, on_tag, path, remove, run_of, tag, tags_of
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def _claimed(flow, people):
    for person in people:
        tag(person, "Go")
    while events_dispatch():
        pass
    pairs = runs_claim_due()
    assert len(pairs) == len(people)
    return pairs


def _advance_counting(pairs):
    with CaptureQueriesContext(connection) as queries:
        counts = runs_advance(pairs=pairs)
    return counts, [q["sql"] for q in queries.captured_queries]


def test_a_chunk_writes_its_events_steps_and_states_in_one_statement_each():
    flow = build(triggers=on_tag("Go"), steps=[add("X"), remove("X"), add("Done")])
    people = SubscriberFactory.create_batch(12)

    counts, sql = _advance_counting(_claimed(flow, people))

    assert counts == {RunStatus.COMPLETED: 12}
    assert sum(s.startswith('INSERT INTO "crm_event"') for s in sql) == 1
    assert sum(s.startswith('INSERT INTO "automations_runstep"') for s in sql) == 1
    assert sum(s.startswith('UPDATE "automations_run"') for s in sql) == 1
    assert sum(s.startswith('SELECT "tags_tag"') for s in sql) <= 2  # names, once per tag
    # The tag writes themselves stay per run (3 each); everything else is per chunk.
    assert len(sql) <= 3 * 12 + 10
    # Each person's tag events, recorded in the order the steps ran.
    mine = Event.objects.filter(subscriber=people[0], type__startswith="tag_").order_by("pk")
    assert [(e.type, e.payload["tag_name"]) for e in mine] == [
        ("tag_add", "Go"),
        ("tag_add", "X"),
        ("tag_remove", "X"),
        ("tag_add", "Done"),
    ]
    for person in people:
        assert path(run_of(flow, person)) == ["add X", "remove X", "add Done"]
        assert tags_of(person) == {"Go", "Done"}


def test_one_run_that_breaks_is_retried_alone_and_the_others_advance(monkeypatch):
    flow = build(triggers=on_tag("Go"), steps=[add("X"), add("Done")])
    people = SubscriberFactory.create_batch(5)
    broken = people[2]
    arrive = TagKind.arrive

    def arrive_or_break(self, ctx):
        if ctx.run.subscriber_id == broken.pk:
            raise RuntimeError("disk on fire")
        return arrive(self, ctx)

    monkeypatch.setattr(TagKind, "arrive", arrive_or_break)

    counts, _ = _advance_counting(_claimed(flow, people))

    assert counts == {RunStatus.COMPLETED: 4, "crashed": 1}
    crashed = run_of(flow, broken)
    assert crashed.status == RunStatus.WAITING
    assert crashed.attempts == 1
    assert "RuntimeError: disk on fire" in crashed.last_error
    assert path(crashed) == []
    assert tags_of(broken) == {"Go"}
    for person in people:
        if person != broken:
            assert path(run_of(flow, person)) == ["add X", "add Done"]
            assert tags_of(person) == {"Go", "X", "Done"}
    # Nothing of the rolled-back attempt survives: each tag event once per person.
    x_adds = Event.objects.filter(type="tag_add", payload__tag_name="X")
    assert sorted(x_adds.values_list("subscriber_id", flat=True)) == sorted(
        p.pk for p in people if p != broken
    )
