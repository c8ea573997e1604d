"""Entry events narrowed to one offering, module or lesson; event steps that wait at most so
long; runs waiting past their automation's limit in Health."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.automations.health import runs_waiting_too_long
from apps.automations.portable import AutomationFileError, automation_export
from apps.automations.services import trigger_add
from apps.members.models import Operation
from apps.members.services import operation_run
from apps.offerings.services import lesson_complete
from tests.automations.helpers import add, build, on_tag, run_of, settle, tag, tags_of
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course
from tests.test_admin_health import _health

pytestmark = pytest.mark.django_db


def _release(subscriber, offering):
    operation_run(
        operation=Operation.RELEASE, offering=offering, email=subscriber.email, source="test"
    )


def test_an_access_granted_entry_for_one_offering_ignores_another_offerings_grant():
    # given: a flow entered by access to the Foundation Course only
    foundation, advanced = weekly_course("Foundation Course"), weekly_course("Advanced Course")
    flow = build(
        triggers=[{"event_type": "access_granted", "offering": "Foundation Course"}],
        steps=[add("Foundation welcome")],
    )
    first, second = SubscriberFactory(), SubscriberFactory()

    # when: one buys the other course, the other buys this one
    _release(first, advanced)
    _release(second, foundation)
    settle()

    # then
    assert not flow.runs.filter(subscriber=first).exists()
    assert "Foundation welcome" in tags_of(second)
    assert flow.triggers.get().params == {"offering_id": foundation.pk}


def test_a_lesson_completed_entry_narrowed_to_one_lesson():
    course = weekly_course("Foundation Course")
    lessons = list(course.modules.get(position=1).lessons.order_by("position"))
    flow = build(
        triggers=[{"event_type": "lesson_completed", "lesson_id": lessons[1].pk}],
        steps=[add("Finished part 2")],
    )
    member = SubscriberFactory()
    _release(member, course)

    lesson_complete(subscriber=member, lesson=lessons[0])
    settle()
    assert not flow.runs.exists()

    lesson_complete(subscriber=member, lesson=lessons[1])
    settle()
    assert "Finished part 2" in tags_of(member)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"event_type": "tag_add", "offering_id": 1, "tag_id": None}, "tag_id"),
        ({"event_type": "form_subscribe", "offering_id": 1}, "cannot be narrowed by offering_id"),
        ({"event_type": "access_granted", "offering_id": 999999}, "no offering has id 999999"),
        ({"event_type": "module_released", "module_id": "x"}, "expected a whole number"),
    ],
)
def test_a_filter_that_does_not_fit_is_refused_with_a_reason(settings, message):
    weekly_course("Foundation Course")
    flow = build(triggers=[], steps=[])
    with pytest.raises(ValidationError) as caught:
        trigger_add(automation=flow, settings=settings)
    assert message in " ".join(caught.value.messages)


def test_a_module_filter_of_another_offering_is_refused():
    foundation, advanced = weekly_course("Foundation Course"), weekly_course("Advanced Course")
    flow = build(triggers=[], steps=[])
    with pytest.raises(ValidationError) as caught:
        trigger_add(
            automation=flow,
            settings={
                "event_type": "module_released",
                "offering_id": foundation.pk,
                "module_id": advanced.modules.first().pk,
            },
        )
    assert "belongs to 'Advanced Course'" in " ".join(caught.value.messages)


def test_the_offering_filter_travels_by_name_and_an_unknown_one_says_so():
    weekly_course("Foundation Course")
    flow = build(
        triggers=[{"event_type": "access_granted", "offering": "Foundation Course"}],
        steps=[
            {
                "kind": "event",
                "settings": {
                    "event_type": "access_revoked",
                    "offering": "Foundation Course",
                    "timeout": {"amount": 3, "unit": "days"},
                    "on_timeout": "exit",
                },
            }
        ],
    )
    exported = automation_export(flow)
    assert exported["triggers"] == [
        {"event_type": "access_granted", "offering": "Foundation Course"}
    ]
    assert exported["steps"][0]["settings"] == {
        "event_type": "access_revoked",
        "offering": "Foundation Course",
        "timeout": {"amount": 3, "unit": "days"},
        "on_timeout": "exit",
    }
    with pytest.raises(AutomationFileError) as caught:
        build(triggers=[{"event_type": "access_granted", "offering": "Nope"}], steps=[])
    assert "triggers[0].offering: no offering is named 'Nope'" in str(caught.value)


def _waiting_for_a_tag(on_timeout: str | None):
    settings = {"event_type": "tag_add", "tag": "Replied", "timeout": {"amount": 2, "unit": "days"}}
    if on_timeout:
        settings["on_timeout"] = on_timeout
    return build(
        triggers=on_tag("Asked"),
        steps=[{"kind": "event", "settings": settings, "label": "Wait for a reply"}, add("After")],
    )


def test_an_event_steps_timeout_moves_the_run_on():
    flow = _waiting_for_a_tag(None)
    person = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tag(person, "Asked")
        settle()
        clock.shift(timedelta(days=1, hours=23))
        settle()
        assert run_of(flow, person).status == "waiting"

        clock.shift(timedelta(hours=1, seconds=1))
        settle()

    run = run_of(flow, person)
    assert run.status == "completed"
    assert "After" in tags_of(person)
    step = run.steps.get(node_kind="event")
    assert step.detail == (
        "waiting for tag_add (at most 2 days); "
        "timed out: the event did not happen within 2 days; carried on"
    )


def test_an_event_before_the_timeout_passes_as_before_and_exit_on_timeout_exits():
    flow = _waiting_for_a_tag("exit")
    early, silent = SubscriberFactory(), SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for person in (early, silent):
            tag(person, "Asked")
        settle()
        clock.shift(timedelta(hours=5))
        tag(early, "Replied")
        settle()
        clock.shift(timedelta(days=3))
        settle()

    assert run_of(flow, early).status == "completed"
    assert run_of(flow, early).steps.get(node_kind="event").detail.endswith("event happened")
    assert run_of(flow, silent).status == "exited"
    assert "After" not in tags_of(silent)


def test_a_run_waiting_past_its_automations_limit_shows_in_health(admin_client):
    # given: a flow whose creator wants to hear of anyone waiting more than 3 days
    flow = build(
        triggers=on_tag("Asked"),
        steps=[{"kind": "event", "settings": {"event_type": "tag_add", "tag": "Replied"}}],
    )
    flow.wait_warn_days = 3
    flow.save()
    person = SubscriberFactory(email="waiting@example.com")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        tag(person, "Asked")
        settle()

    # when / then
    with time_machine.travel(start + timedelta(days=2), tick=False):
        assert runs_waiting_too_long(now=timezone.now())[0] == 0
    with time_machine.travel(start + timedelta(days=3, minutes=1), tick=False):
        late, oldest = runs_waiting_too_long(now=timezone.now())
        value, _, bad = _health(admin_client)["Runs waiting longer than their automation allows"]
    assert (late, oldest.subscriber.email) == (1, "waiting@example.com")
    assert bad and value.startswith("1 · longest: waiting@example.com at Event")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"timeout": {"amount": 0, "unit": "days"}}, "timeout.amount: must be at least 1"),
        ({"timeout": {"amount": 2, "unit": "minutes"}}, "timeout.unit: must be one of hours"),
        ({"timeout": 3}, 'timeout: expected {"amount": N'),
        ({"on_timeout": "exit"}, "on_timeout: set a timeout first"),
        ({"timeout": {"amount": 2, "unit": "days"}, "on_timeout": "stop"}, "on_timeout: must be"),
    ],
)
def test_a_bad_timeout_is_refused_with_the_setting_named(settings, message):
    from apps.automations.services import node_create

    flow = build(triggers=[], steps=[])
    with pytest.raises(ValidationError) as caught:
        node_create(
            automation=flow,
            kind="event",
            settings={"event_type": "access_granted", **settings},
        )
    assert message in " ".join(caught.value.messages)


def test_a_release_of_access_already_held_moves_waiting_runs_but_starts_no_flow():
    course = weekly_course("Foundation Course")
    entry = build(
        triggers=[{"event_type": "access_granted", "offering": "Foundation Course"}],
        steps=[add("Granted")],
        reentry="after_finish",
    )
    member = SubscriberFactory()
    _release(member, course)
    settle()
    assert entry.runs.count() == 1

    _release(member, course)  # access already active: announced, changes nothing
    settle()

    assert entry.runs.count() == 1
    assert member.events.filter(type="access_granted").count() == 2
