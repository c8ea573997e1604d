"""The guide's "Creating Conditional Automations" section, example by example."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.automations.models import RunStatus
from tests.automations.helpers import (
    add,
    build,
    on_tag,
    path,
    run_of,
    settle,
    tag,
    tags_of,
    wait,
    when,
)
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def vip_flow():
    return build(
        name="Course Completion – Conditional Path",
        triggers=on_tag("Course Complete"),
        steps=[
            when(
                {"has": "VIP Member"},
                yes=[add("VIP Completion Certificate", "send VIP email")],
                no=[add("Standard Completion Certificate", "send standard email")],
                label="has VIP Member?",
            )
        ],
    )


def test_example_1_a_vip_member_takes_the_yes_path(vip_flow):
    # given
    student = SubscriberFactory()
    tag(student, "VIP Member")

    # when
    tag(student, "Course Complete")
    settle()

    # then
    run = run_of(vip_flow, student)
    assert path(run) == ["has VIP Member? -> yes", "send VIP email"]
    assert run.status == RunStatus.COMPLETED
    assert "VIP Completion Certificate" in tags_of(student)
    assert "Standard Completion Certificate" not in tags_of(student)


def test_example_1_a_regular_member_takes_the_no_path(vip_flow):
    student = SubscriberFactory()

    tag(student, "Course Complete")
    settle()

    assert path(run_of(vip_flow, student)) == ["has VIP Member? -> no", "send standard email"]


def test_example_2_multi_level_branching_sends_each_level_to_its_track():
    # given
    flow = build(
        triggers=on_tag("Assessment Complete"),
        steps=[
            when(
                {"has": "Advanced Level"},
                yes=[add("Advanced Track", "add to Advanced sequence")],
                no=[
                    when(
                        {"has": "Intermediate Level"},
                        yes=[add("Intermediate Track", "add to Intermediate sequence")],
                        no=[add("Beginner Track", "add to Beginner sequence")],
                        label="Intermediate?",
                    )
                ],
                label="Advanced?",
            )
        ],
    )
    advanced, intermediate, beginner = SubscriberFactory.create_batch(3)
    tag(advanced, "Advanced Level")
    tag(intermediate, "Intermediate Level")

    # when
    for student in (advanced, intermediate, beginner):
        tag(student, "Assessment Complete")
    settle()

    # then
    assert path(run_of(flow, advanced)) == ["Advanced? -> yes", "add to Advanced sequence"]
    assert path(run_of(flow, intermediate)) == [
        "Advanced? -> no",
        "Intermediate? -> yes",
        "add to Intermediate sequence",
    ]
    assert path(run_of(flow, beginner)) == [
        "Advanced? -> no",
        "Intermediate? -> no",
        "add to Beginner sequence",
    ]


@pytest.fixture
def upsell_flow():
    return build(
        triggers=on_tag("Module 5 Complete"),
        steps=[
            wait(2, "days"),
            when(
                {"has_not": "Advanced Course Student"},
                yes=[add("Upgrade Offer Sent", "send upgrade email")],
                no=[{"kind": "end", "settings": {}, "label": "do nothing"}],
                label="NOT Advanced Course Student?",
            ),
        ],
    )


def test_example_3_upsell_waits_two_days_then_offers_to_those_without_the_course(upsell_flow):
    # given
    student = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        # when
        tag(student, "Module 5 Complete")
        settle()
        waiting = run_of(upsell_flow, student)
        at_start = (waiting.status, waiting.current_node.label, path(waiting))
        clock.shift(timedelta(days=1, hours=23))
        settle()
        still = run_of(upsell_flow, student)
        before_due = (still.status, path(still))
        clock.shift(timedelta(hours=1))
        settle()

    # then
    assert at_start == (RunStatus.WAITING, "wait 2 days", [])
    assert before_due == (RunStatus.WAITING, [])
    done = run_of(upsell_flow, student)
    assert path(done) == [
        "wait 2 days",
        "NOT Advanced Course Student? -> yes",
        "send upgrade email",
    ]
    step = done.steps.get(node_label="wait 2 days")
    assert step.at - step.arrived_at == timedelta(days=2)


def test_example_3_a_buyer_during_the_wait_gets_no_upsell(upsell_flow):
    student = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tag(student, "Module 5 Complete")
        settle()
        clock.shift(timedelta(days=1))
        tag(student, "Advanced Course Student")  # the condition is read on arrival
        clock.shift(timedelta(days=1))
        settle()

    assert path(run_of(upsell_flow, student)) == [
        "wait 2 days",
        "NOT Advanced Course Student? -> no",
        "do nothing",
    ]
    assert "Upgrade Offer Sent" not in tags_of(student)


def test_and_logic_needs_both_module_tags():
    flow = build(
        triggers=on_tag("Check Progress"),
        steps=[
            when(
                {"and": [{"has": "Module 1 Complete"}, {"has": "Module 2 Complete"}]},
                yes=[add("Progress Email", "send progress email")],
                no=[],
                label="M1 AND M2?",
            )
        ],
    )
    both, one = SubscriberFactory.create_batch(2)
    tag(both, "Module 1 Complete")
    tag(both, "Module 2 Complete")
    tag(one, "Module 1 Complete")

    tag(both, "Check Progress")
    tag(one, "Check Progress")
    settle()

    assert path(run_of(flow, both)) == ["M1 AND M2? -> yes", "send progress email"]
    assert path(run_of(flow, one)) == ["M1 AND M2? -> no"]
    assert run_of(flow, one).status == RunStatus.COMPLETED


def test_or_logic_takes_silver_or_gold():
    flow = build(
        triggers=on_tag("Monthly Perks"),
        steps=[
            when(
                {"or": [{"has": "Silver Member"}, {"has": "Gold Member"}]},
                yes=[add("Perks Email", "send perks email")],
                no=[],
                label="Silver OR Gold?",
            )
        ],
    )
    silver, gold, neither = SubscriberFactory.create_batch(3)
    tag(silver, "Silver Member")
    tag(gold, "Gold Member")

    for member in (silver, gold, neither):
        tag(member, "Monthly Perks")
    settle()

    assert path(run_of(flow, silver)) == ["Silver OR Gold? -> yes", "send perks email"]
    assert path(run_of(flow, gold)) == ["Silver OR Gold? -> yes", "send perks email"]
    assert path(run_of(flow, neither)) == ["Silver OR Gold? -> no"]


def test_testing_each_branch_as_the_guide_says_re_entry_after_the_first_run():
    """The guide's testing steps: trigger, remove the conditional tag, trigger again."""
    flow = build(
        triggers=on_tag("Course Complete"),
        steps=[
            when(
                {"has": "VIP Member"},
                yes=[add("VIP Cert", "vip")],
                no=[add("Std Cert", "std")],
                label="VIP?",
            )
        ],
    )
    tester = SubscriberFactory()
    tag(tester, "VIP Member")
    tag(tester, "Course Complete")
    settle()
    assert path(run_of(flow, tester)) == ["VIP? -> yes", "vip"]

    from tests.automations.helpers import untag

    untag(tester, "VIP Member")
    untag(tester, "Course Complete")
    tag(tester, "Course Complete")
    settle()

    second = run_of(flow, tester)
    assert second.entry_number == 2
    assert path(second) == ["VIP? -> no", "std"]
