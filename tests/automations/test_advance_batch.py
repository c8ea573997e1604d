"""A chunk of claimed runs advances in one transaction with batched writes, and one run that
breaks costs only itself: the chunk is redone run by run."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.automations.engine import runs_advance
from apps.automations.kinds.add_tag import TagKind
from apps.automations.models import RunStatus
from apps.automations.run_leases import runs_claim_due
from apps.automations.services import node_create
from apps.crm.dispatch import events_dispatch
from apps.crm.models import Event
from tests.automations.helpers import (
    add,
    build,
    on_tag,
    path,
    remove,
    run_of,
    settle,
    tag,
    tags_of,
)
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
    # The tag writes themselves stay per run (3 each); everything else is per chunk, the
    # offerings' revoke tags (tags are permissions) included: read once.
    assert sum("offerings_offering" in s for s in sql) == 1
    assert len(sql) <= 3 * 12 + 11
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


@pytest.mark.parametrize("b_first", [True, False])
def test_a_run_removed_by_another_run_of_the_same_chunk_stays_exited(b_first):
    """Run A's step exits the same person's run B, and both were claimed in one chunk: B's
    state held in memory is stale, so the chunk is redone run by run and B stays exited."""
    waiting = [{"kind": "event", "settings": {"event_type": "tag_add", "tag": "Never"}}]
    if b_first:
        b = build(name="B", triggers=on_tag("Go"), steps=waiting)
    a = build(name="A", triggers=on_tag("Go"), steps=[])
    if not b_first:
        b = build(name="B", triggers=on_tag("Go"), steps=waiting)
    node_create(automation=a, kind="remove_from_automation", settings={"automation_id": b.pk})
    person = SubscriberFactory()

    tag(person, "Go")
    while events_dispatch():
        pass
    pairs = runs_claim_due()
    assert len(pairs) == 2  # A's run and B's, in one chunk
    assert (run_of(b, person).pk < run_of(a, person).pk) == b_first  # both orders
    runs_advance(pairs=pairs)

    removed = run_of(b, person)
    assert removed.status == RunStatus.EXITED
    assert [(s.outcome, s.detail) for s in removed.steps.order_by("seq")] == [
        ("exited", "removed by 'A'")
    ]
    assert removed.steps_logged == 1
    assert run_of(a, person).status == RunStatus.COMPLETED


def test_a_run_started_by_a_step_sees_the_events_that_step_chunk_wrote_before_it():
    """A adds VIP, then starts B, which waits for VIP to be added: the VIP event came before
    B started, so B keeps waiting (as it would if the steps had run one by one)."""
    build(
        name="B",
        triggers=[],
        steps=[{"kind": "event", "settings": {"event_type": "tag_add", "tag": "VIP"}}, add("Done")],
    )
    build(
        name="A",
        triggers=on_tag("Go"),
        steps=[add("VIP"), {"kind": "start_automation", "settings": {"automation": "B"}}],
    )
    person = SubscriberFactory()
    tag(person, "Go")
    settle()

    assert tags_of(person) == {"Go", "VIP"}


def test_a_wait_for_an_event_the_same_chunk_already_wrote_passes_at_once():
    flow = build(
        triggers=on_tag("Go"),
        steps=[
            add("X"),
            {
                "kind": "event",
                "label": "X added?",
                "settings": {"event_type": "tag_add", "tag": "X"},
            },
            add("Done"),
        ],
    )
    person = SubscriberFactory()
    runs_advance(pairs=_claimed(flow, [person]))

    assert run_of(flow, person).status == RunStatus.COMPLETED
    assert "had already happened during this run" in run_of(flow, person).steps.get(seq=2).detail
