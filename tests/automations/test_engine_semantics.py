import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.automations.engine import CHAIN_DEPTH_MAX, engine_health, run_advance
from apps.automations.models import Node, Run, RunStatus, StepOutcome
from apps.automations.run_leases import runs_claim_due, runs_reap
from apps.automations.services import automation_set_status, node_create, node_delete, node_update
from apps.crm.delivery import deliveries_send
from apps.crm.dispatch import events_dispatch
from apps.crm.models import DeliveryStatus, WebhookDelivery
from apps.crm.services import custom_field_create, subscriber_fields_set, subscriber_unsubscribe
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
    untag,
    wait,
)
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def _two_step_flow(status="live", reentry="after_finish"):
    return build(
        triggers=on_tag("Go"),
        steps=[wait(1, "days"), add("Done")],
        status=status,
        reentry=reentry,
    )


# Status ------------------------------------------------------------------------------------


def test_paused_lets_people_enter_and_queue_but_nobody_moves_until_live():
    flow = _two_step_flow(status="paused")
    person = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tag(person, "Go")
        settle()
        queued = run_of(flow, person)
        assert (queued.status, queued.arrived, path(queued)) == (RunStatus.WAITING, False, [])

        clock.shift(timedelta(days=3))
        settle()
        assert path(run_of(flow, person)) == []

        automation_set_status(automation=flow, status="live")
        settle()
        clock.shift(timedelta(days=1))
        settle()

    assert path(run_of(flow, person)) == ["wait 1 days", "add Done"]
    assert "Done" in tags_of(person)


def test_pausing_holds_runs_in_the_middle_of_a_delay():
    flow = _two_step_flow()
    person = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tag(person, "Go")
        settle()
        automation_set_status(automation=flow, status="paused")
        clock.shift(timedelta(days=2))
        settle()
        held = run_of(flow, person)
        assert (held.status, held.current_node.label) == (RunStatus.WAITING, "wait 1 days")
        assert engine_health()["due"] == 0  # a paused flow's due runs are not "late"

        automation_set_status(automation=flow, status="live")
        settle()
    assert run_of(flow, person).status == RunStatus.COMPLETED


def test_draft_admits_nobody():
    flow = _two_step_flow(status="draft")
    person = SubscriberFactory()

    tag(person, "Go")
    settle()

    assert not Run.objects.filter(automation=flow).exists()


def _claimed_run():
    """A one-step flow whose single run has just been claimed by a sweep."""
    flow = build(triggers=on_tag("Go"), steps=[add("Done")])
    person = SubscriberFactory()
    tag(person, "Go")
    events_dispatch()
    ((run_id, token),) = runs_claim_due()
    return flow, person, run_id, token


def test_a_run_claimed_just_before_a_pause_is_handed_back_not_advanced():
    flow, _, run_id, token = _claimed_run()
    automation_set_status(automation=flow, status="paused")

    assert run_advance(run_id=run_id, token=token) == RunStatus.WAITING
    assert path(Run.objects.get(pk=run_id)) == []


# Re-entry ----------------------------------------------------------------------------------


def test_an_entry_while_a_run_is_active_is_ignored_and_again_after_it_finished():
    flow = _two_step_flow()
    person = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tag(person, "Go")
        settle()
        untag(person, "Go")
        tag(person, "Go")  # while the first run waits
        settle()
        assert Run.objects.filter(automation=flow).count() == 1

        clock.shift(timedelta(days=1))
        settle()
        untag(person, "Go")
        tag(person, "Go")
        settle()

    assert list(
        Run.objects.filter(automation=flow)
        .order_by("entry_number")
        .values_list("entry_number", "status")
    ) == [(1, RunStatus.COMPLETED), (2, RunStatus.WAITING)]


def test_once_means_once_ever():
    flow = build(triggers=on_tag("Go"), steps=[add("Done")], reentry="once")
    person = SubscriberFactory()
    tag(person, "Go")
    settle()
    untag(person, "Go")
    tag(person, "Go")
    settle()

    assert Run.objects.filter(automation=flow).count() == 1


def test_readding_a_held_tag_does_not_trigger():
    flow = build(triggers=on_tag("Go"), steps=[add("Done")])
    person = SubscriberFactory()
    tag(person, "Go")
    settle()

    tag(person, "Go")
    settle()

    assert Run.objects.filter(automation=flow).count() == 1


def test_events_from_before_the_automation_existed_do_not_start_it():
    person = SubscriberFactory()
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False):
        tag(person, "Go")  # recorded, not yet dispatched (as after an outage)
    flow = build(triggers=on_tag("Go"), steps=[add("Done")])

    settle()

    assert not Run.objects.filter(automation=flow).exists()


# Unsubscribe -------------------------------------------------------------------------------


def test_unsubscribing_exits_every_active_run_and_keeps_history():
    first, second = _two_step_flow(), build(triggers=on_tag("Go"), steps=[wait(3, "days")])
    person = SubscriberFactory()
    tag(person, "Go")
    settle()

    subscriber_unsubscribe(subscriber=person)
    settle()

    for flow in (first, second):
        run = run_of(flow, person)
        assert run.status == RunStatus.EXITED
        assert run.steps.get().outcome == StepOutcome.EXITED
        assert run.steps.get().detail == "unsubscribed"
    with time_machine.travel(timezone.now() + timedelta(days=5)):
        settle()
    assert "Done" not in tags_of(person)


def test_a_cancelled_subscriber_does_not_enter():
    flow = _two_step_flow()
    person = SubscriberFactory()
    subscriber_unsubscribe(subscriber=person)

    tag(person, "Go")
    settle()

    assert not Run.objects.filter(automation=flow).exists()


# Editing a live automation -----------------------------------------------------------------


def test_deleting_the_delay_runs_wait_at_moves_them_to_the_next_step():
    # given: three people waiting in a 7-day delay
    flow = build(triggers=on_tag("Go"), steps=[wait(7, "days"), add("After"), add("Later")])
    people = SubscriberFactory.create_batch(3)
    for person in people:
        tag(person, "Go")
    settle()
    delay = Node.objects.get(automation=flow, kind="delay")

    # when
    moved = node_delete(node=delay)
    settle()

    # then: nobody is stranded; each log says what happened
    assert moved == 3
    for person in people:
        run = run_of(flow, person)
        assert run.status == RunStatus.COMPLETED
        assert path(run) == ["wait 7 days", "add After", "add Later"]
        assert run.steps.filter(outcome=StepOutcome.SKIPPED, node__isnull=True).count() == 1
        assert {"After", "Later"} <= tags_of(person)


def test_deleting_a_condition_moves_runs_waiting_in_its_branches_past_it():
    flow = build(
        triggers=on_tag("Go"),
        steps=[
            {
                "kind": "condition",
                "settings": {"condition": {"has": "VIP"}},
                "label": "VIP?",
                "yes": [wait(3, "days", "vip wait")],
                "no": [wait(5, "days", "std wait")],
            },
            add("After"),
        ],
    )
    vip, std = SubscriberFactory.create_batch(2)
    tag(vip, "VIP")
    for person in (vip, std):
        tag(person, "Go")
    settle()

    node_delete(node=Node.objects.get(automation=flow, kind="condition"))
    settle()

    assert all("After" in tags_of(p) for p in (vip, std))
    assert not Node.objects.filter(automation=flow, kind="delay").exists()


def test_deleting_the_last_step_completes_the_runs_waiting_there():
    flow = build(triggers=on_tag("Go"), steps=[add("First"), wait(2, "days")])
    person = SubscriberFactory()
    tag(person, "Go")
    settle()

    node_delete(node=Node.objects.get(automation=flow, kind="delay"))
    settle()

    assert run_of(flow, person).status == RunStatus.COMPLETED


def test_changing_a_delay_is_not_retroactive_for_runs_already_waiting():
    build(triggers=on_tag("Go"), steps=[wait(2, "days"), add("Done")])
    person = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tag(person, "Go")
        settle()
        node_update(node=Node.objects.get(kind="delay"), settings={"amount": 9, "unit": "days"})
        clock.shift(timedelta(days=2))
        settle()
    assert "Done" in tags_of(person)


# Loops -------------------------------------------------------------------------------------


def test_a_flow_that_re_adds_its_own_trigger_tag_does_not_loop():
    flow = build(triggers=on_tag("Loop"), steps=[remove("Loop"), add("Loop")])
    person = SubscriberFactory()

    tag(person, "Loop")
    settle()

    runs = Run.objects.filter(automation=flow).order_by("entry_number")
    assert runs.count() <= CHAIN_DEPTH_MAX + 2
    assert runs.last().status == RunStatus.FAILED
    assert "triggered each other" in runs.last().last_error


def test_two_automations_that_trigger_each_other_stop_at_the_bound_with_a_logged_error(caplog):
    ping = build(name="Ping", triggers=on_tag("Ping"), steps=[remove("Ping"), add("Pong")])
    pong = build(name="Pong", triggers=on_tag("Pong"), steps=[remove("Pong"), add("Ping")])
    person = SubscriberFactory()

    tag(person, "Ping")
    settle()

    runs = Run.objects.filter(subscriber=person)
    assert runs.count() == CHAIN_DEPTH_MAX + 2
    failed = runs.get(status=RunStatus.FAILED)
    assert failed.automation in (ping, pong)
    assert f"the bound is {CHAIN_DEPTH_MAX}" in failed.last_error
    assert "triggered each other" in caplog.text
    assert not runs.filter(status__in=[RunStatus.WAITING, RunStatus.RUNNING]).exists()


def test_start_automation_steps_that_start_each_other_also_stop():
    a = build(name="A", triggers=on_tag("Start A"), steps=[])
    b = build(
        name="B", triggers=[], steps=[{"kind": "start_automation", "settings": {"automation": "A"}}]
    )
    node_create(automation=a, kind="start_automation", settings={"automation_id": b.pk})
    node_create(automation=a, kind="end", settings={})
    person = SubscriberFactory()

    tag(person, "Start A")
    settle()

    assert Run.objects.filter(subscriber=person, status=RunStatus.FAILED).exists()
    assert not Run.objects.filter(subscriber=person, status=RunStatus.WAITING).exists()


# Kinds -------------------------------------------------------------------------------------


def test_delay_until_a_date_in_a_custom_field():
    custom_field_create(label="Call date")
    flow = build(
        triggers=on_tag("Go"),
        steps=[
            {"kind": "delay", "settings": {"until_field": "call_date"}, "label": "until call"},
            add("Reminder"),
        ],
    )
    person, blank = SubscriberFactory.create_batch(2)
    start = (timezone.now() + timedelta(minutes=1)).replace(microsecond=0)
    subscriber_fields_set(
        subscriber=person, values={"call_date": (start + timedelta(days=3)).date().isoformat()}
    )
    with time_machine.travel(start, tick=False) as clock:
        tag(person, "Go")
        tag(blank, "Go")
        settle()
        assert "Reminder" in tags_of(blank)
        assert "Reminder" not in tags_of(person)
        clock.shift(timedelta(days=3))
        settle()
    assert "Reminder" in tags_of(person)
    assert "empty" in run_of(flow, blank).steps.get(node_label="until call").detail


def test_set_field_and_field_conditions():
    custom_field_create(label="Score")
    flow = build(
        triggers=on_tag("Go"),
        steps=[
            {"kind": "set_field", "settings": {"key": "score", "value": "85"}, "label": "set"},
            {
                "kind": "condition",
                "label": "score > 80?",
                "settings": {"condition": {"field": {"key": "score", "op": "gt", "value": 80}}},
                "yes": [add("High")],
                "no": [add("Low")],
            },
        ],
    )
    person = SubscriberFactory()
    tag(person, "Go")
    settle()

    assert path(run_of(flow, person)) == ["set", "score > 80? -> yes", "add High"]


def test_an_event_step_for_a_field_change_waits_for_that_value():
    custom_field_create(label="Plan")
    flow = build(
        triggers=on_tag("Go"),
        steps=[
            {
                "kind": "event",
                "label": "plan becomes gold",
                "settings": {
                    "event_type": "field_value_updated",
                    "field_key": "plan",
                    "value": "gold",
                },
            },
            add("Gold perks"),
        ],
    )
    person = SubscriberFactory()
    tag(person, "Go")
    settle()
    subscriber_fields_set(subscriber=person, values={"plan": "silver"})
    settle()
    assert run_of(flow, person).status == RunStatus.WAITING

    subscriber_fields_set(subscriber=person, values={"plan": "gold"})
    settle()

    assert "Gold perks" in tags_of(person)


class _Receiver(BaseHTTPRequestHandler):
    received: list = []
    answer = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, dict(self.headers), json.loads(body)))
        self.send_response(type(self).answer)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received, _Receiver.answer = [], 200
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_a_webhook_step_posts_its_liquid_payload_once_and_retries_a_failing_target(receiver):
    # given
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    flow = build(
        triggers=on_tag("Go"),
        steps=[
            {
                "kind": "webhook",
                "label": "notify",
                "settings": {
                    "url": url,
                    "payload": '{"email": {{ subscriber.email_address | json }}}',
                },
            }
        ],
    )
    person = SubscriberFactory(email="hook@example.com")
    _Receiver.answer = 500

    # when: first attempt fails, the retry (on the backoff schedule) succeeds
    tag(person, "Go")
    settle()
    deliveries_send()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.PENDING,
        1,
        500,
    )
    _Receiver.answer = 200
    deliveries_send()  # not due yet
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        deliveries_send()

    # then
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert [body for _, _, body in _Receiver.received] == [{"email": "hook@example.com"}] * 2
    assert path(run_of(flow, person)) == ["notify"]
    assert (
        delivery.key == f"run:{run_of(flow, person).pk}:node:{Node.objects.get(kind='webhook').pk}"
    )


def test_a_410_answer_stops_retries(receiver):
    url = f"http://127.0.0.1:{receiver.server_port}/gone"
    build(triggers=on_tag("Go"), steps=[{"kind": "webhook", "settings": {"url": url}}])
    _Receiver.answer = 410
    tag(SubscriberFactory(), "Go")
    settle()
    deliveries_send()

    assert WebhookDelivery.objects.get().status == DeliveryStatus.GONE
    assert "subscriber" in _Receiver.received[0][2]


def test_a_payload_that_needs_a_missing_variable_fails_the_run_with_the_reason():
    flow = build(
        triggers=on_tag("Go"),
        steps=[
            {
                "kind": "webhook",
                "settings": {"url": "http://127.0.0.1:9/x", "payload": "{{ subscriber.nickname }}"},
            }
        ],
    )
    person = SubscriberFactory()
    tag(person, "Go")
    settle()

    run = run_of(flow, person)
    assert run.status == RunStatus.FAILED
    assert "subscriber.nickname is undefined" in run.last_error
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize(
    "kind, settings, message",
    [
        ("delay", {"amount": 3, "unit": "fortnights"}, "unit: must be one of"),
        ("delay", {"amount": -1, "unit": "days"}, "amount: must be at least 0"),
        ("delay", {"until_field": "nope"}, "until_field: no custom field"),
        ("add_tag", {"tag_id": 999999}, "tag_id: no tag has id 999999"),
        ("add_tag", {}, "tag_id: expected a whole number"),
        ("condition", {"condition": {"or": []}}, "or: expected a non-empty list"),
        ("event", {"event_type": "moon_landing"}, "event_type: unknown event"),
        ("event", {"event_type": "tag_add"}, "tag_id: expected a whole number"),
        ("webhook", {"url": "ftp://x"}, "url: expected an http(s) URL"),
        ("webhook", {"url": "http://x.test", "payload": "{% if %}"}, "payload: line 1"),
        ("teleport", {}, "unknown step kind 'teleport'"),
    ],
)
def test_each_kind_validates_its_settings_with_a_clear_message(kind, settings, message):
    flow = build(triggers=[], steps=[], status="draft")
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        node_create(automation=flow, kind=kind, settings=settings)
    assert not Node.objects.filter(automation=flow).exists()


# Operations --------------------------------------------------------------------------------


def test_the_reaper_returns_a_dead_workers_runs_and_health_shows_them():
    flow, person, _, _ = _claimed_run()  # ...and the worker that claimed it dies
    later = timezone.now() + timedelta(hours=1)
    assert engine_health(now=later)["stuck"] == 1

    assert runs_reap(now=later) == 1
    with time_machine.travel(later):
        settle()

    run = run_of(flow, person)
    assert run.status == RunStatus.COMPLETED
    assert run.attempts == 1
    assert path(run) == ["add Done"]


def test_resume_stuck_command_reports(capsys):
    from django.core.management import call_command

    call_command("resume_stuck")
    assert "Returned 0 stuck run(s)" in capsys.readouterr().out
