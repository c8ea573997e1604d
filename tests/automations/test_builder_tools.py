"""Lint, dry run, the Course launch template and "skip this wait": the builder's tools."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.automations.dryrun import automation_dry_run, subscriber_state
from apps.automations.graph import graph_load
from apps.automations.lint import automation_lint
from apps.automations.models import Automation, Node, Run, RunStatus, RunStep
from apps.automations.services import run_skip_wait
from apps.automations.templates import automation_template_course_launch
from apps.crm.models import EmailMessage, Event
from apps.members.models import Operation
from apps.members.services import endpoint_mint, operation_run
from apps.tags.models import Tagging
from apps.tags.services import tag_get_or_create
from tests.automations.helpers import (
    add,
    build,
    on_tag,
    path,
    remove,
    run_of,
    settle,
    tag,
    wait,
    when,
)
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db


def _lint(flow) -> list[tuple[str | None, str]]:
    graph = graph_load(flow.pk)
    messages = automation_lint(graph=graph, triggers=flow.triggers.all())
    return [
        (graph.nodes[m.node_id].label if m.node_id else ("entry" if m.trigger_id else None), m.text)
        for m in messages
    ]


def _tag_id(name: str) -> int:
    return tag_get_or_create(name=name)[0].pk


# Lint -------------------------------------------------------------------------------------


def test_lint_flags_a_condition_tag_nothing_adds_and_not_one_a_step_adds():
    # given
    build(triggers=on_tag("Elsewhere"), steps=[add("Gold Member")])
    flow = build(
        triggers=on_tag("Course Complete"),
        steps=[
            when({"has": "VIP Member"}, yes=[], no=[], label="VIP?"),
            when({"has": "Gold Member"}, yes=[], no=[], label="Gold?"),
        ],
    )
    tag_get_or_create(name="Course Complete")

    # when
    found = _lint(flow)

    # then
    texts = {where: text for where, text in found}
    assert "Nothing adds the tag 'VIP Member'" in texts["VIP?"]
    assert "Gold?" not in texts
    assert "Nothing adds the tag 'Course Complete'" in texts["entry"]


def test_lint_counts_a_form_that_adds_the_tag():
    from apps.crm.models import Form

    flow = build(triggers=on_tag("Go"), steps=[when({"has": "Lead"}, yes=[], no=[], label="Lead?")])
    assert "Lead?" in {where for where, _ in _lint(flow)}

    Form.objects.create(name="Opt-in", tag_ids=[tag_get_or_create(name="Lead")[0].pk])

    assert "Lead?" not in {where for where, _ in _lint(flow)}


def test_lint_flags_a_flow_that_adds_its_own_entry_tag_and_steps_after_an_end():
    flow = build(
        triggers=on_tag("Go"),
        steps=[add("Go", "again"), {"kind": "end", "settings": {}}, add("Late", "too late")],
    )

    found = dict(_lint(flow))

    assert "the tag that starts this automation" in found["again"]
    assert "Never reached: it comes after the End step" in found["too late"]


def test_lint_flags_a_release_webhook_tag_the_flow_never_removes():
    course = weekly_course("Lint Course")
    endpoint_mint(
        operation=Operation.RELEASE,
        offering=course,
        trigger_tag=tag_get_or_create(name="Lint Course – Release Webhook")[0],
    )
    keeps = build(triggers=on_tag("Buy"), steps=[add("Lint Course – Release Webhook", "release")])
    tidy = build(
        triggers=on_tag("Buy 2"),
        steps=[
            add("Lint Course – Release Webhook", "release"),
            remove("Lint Course – Release Webhook", "tidy"),
        ],
    )

    assert any("never removes it" in text for where, text in _lint(keeps) if where == "release")
    assert not any("never removes it" in text for _, text in _lint(tidy))


@pytest.mark.parametrize("store_password, flagged", [(False, True), (True, False)])
def test_lint_flags_an_email_with_the_password_when_the_offering_stores_none(
    store_password, flagged
):
    weekly_course("Pw Course", store_password=store_password)
    email = {
        "kind": "send_email",
        "label": "welcome",
        "settings": {"subject": "Hi", "body": "Password: {{ subscriber.accessally_password }}"},
    }
    guarded = {
        "kind": "send_email",
        "label": "guarded",
        "settings": {
            "subject": "Hi",
            "body": "{% if subscriber.accessally_password %}{{ subscriber.accessally_password }}"
            "{% else %}{{ set_password_url }}{% endif %}",
        },
    }
    flow = build(triggers=on_tag("Pw Course – Purchase Success"), steps=[email, guarded])

    found = [(where, text) for where, text in _lint(flow) if "password" in text]

    assert bool(found) is flagged
    assert all(where == "welcome" for where, _ in found)
    if flagged:
        assert "'Pw Course' does not store passwords" in found[0][1]


# Dry run ----------------------------------------------------------------------------------


def _counts():
    return tuple(m.objects.count() for m in (Run, RunStep, Tagging, Event, EmailMessage))


def test_a_dry_run_walks_the_path_with_no_write_and_passes_delays_through():
    # given
    flow = build(
        triggers=on_tag("Go"),
        steps=[
            wait(2, "days", "wait"),
            add("Silver Member", "silver"),
            when({"has": "Silver Member"}, yes=[add("Perk", "perk")], no=[], label="silver?"),
            {"kind": "send_email", "label": "mail", "settings": {"subject": "S", "body": "B"}},
            {"kind": "event", "label": "login", "settings": {"event_type": "member_login_created"}},
            add("After", "after"),
        ],
        status="draft",
    )
    person = SubscriberFactory()
    before = _counts()

    # when
    tag_ids, fields = subscriber_state(subscriber_id=person.pk)
    result = automation_dry_run(graph=graph_load(flow.pk), tag_ids=tag_ids, fields=fields)

    # then
    labels = {n.pk: n.label for n in Node.objects.filter(automation=flow)}
    assert [(labels[s.node_id], s.note) for s in result.steps] == [
        ("wait", "would wait 2 days here"),
        ("silver", "would add 'Silver Member'"),
        ("silver?", "condition met: Yes"),
        ("perk", "would add 'Perk'"),
        ("mail", "would send 'S'"),
        ("login", "would wait here for member login created"),
    ]
    assert result.ending == "waiting" and result.steps[-1].waits
    assert _counts() == before


def test_a_dry_run_from_typed_tags_and_fields_takes_the_matching_branch():
    flow = build(
        triggers=on_tag("Go"),
        steps=[
            when(
                {"or": [{"has": "Gold Member"}, {"has": "Silver Member"}]},
                yes=[{"kind": "end", "settings": {}, "label": "stop"}],
                no=[add("Upsell", "upsell")],
                label="member?",
            ),
        ],
    )
    graph = graph_load(flow.pk)

    gold = automation_dry_run(graph=graph, tag_ids={_tag_id("Gold Member")}, fields={})
    nobody = automation_dry_run(graph=graph, tag_ids=set(), fields={})

    assert [s.branch for s in gold.steps] == ["yes", ""] and gold.ending == "completed"
    assert [s.note for s in nobody.steps] == ["condition not met: No", "would add 'Upsell'"]


# The Course launch template ---------------------------------------------------------------


def _launchable(name="Launch Course"):
    course = weekly_course(name)
    for operation, suffix in (
        (Operation.RELEASE, "Release Webhook"),
        (Operation.UPDATE, "Update User"),
    ):
        endpoint_mint(
            operation=operation,
            offering=course,
            trigger_tag=tag_get_or_create(name=f"{name} – {suffix}")[0],
        )
    return course


def test_the_course_launch_template_builds_the_guides_release_flow_as_a_draft():
    course = _launchable()

    flow = automation_template_course_launch(offering_id=course.pk)

    assert flow.status == "draft" and flow.name == "Launch Course – Release"
    trigger = flow.triggers.get()
    assert trigger.tag.name == "Launch Course – Purchase Success"
    steps = [
        (n.kind, n.settings.get("amount") or n.settings.get("event_type") or "")
        for n in graph_load(flow.pk).walk()
    ]
    assert steps[:4] == [
        ("add_tag", ""),
        ("event", "access_granted"),
        ("send_email", ""),
        ("remove_tag", ""),
    ]
    assert [s for s in steps if s[0] == "delay"] == [("delay", 7), ("delay", 7)]
    assert steps[-3:] == [("event", "tag_add"), ("remove_tag", ""), ("add_tag", "")]
    # Nothing in it needs a lint warning: the release tag is removed, the email is guarded.
    assert _lint(flow) == []


def test_the_course_launch_template_runs_a_buyer_through_to_the_second_module():
    course = _launchable("Run Course")
    flow = automation_template_course_launch(offering_id=course.pk, name="Run it")
    flow.status = "live"
    flow.save()
    buyer = SubscriberFactory(email="buyer@example.com")

    with time_machine.travel(timezone.now(), tick=False) as clock:
        tag(buyer, "Run Course – Purchase Success")
        settle()
        # What the Release Offering webhook does when the CRM calls it.
        operation_run(
            operation=Operation.RELEASE, offering=course, email=buyer.email, source="test"
        )
        settle()
        clock.shift(timedelta(days=7, minutes=1))
        settle()

    run = run_of(flow, buyer)
    assert "Welcome email with the login" in path(run)
    assert "Run Course – Module 2 Access" in set(buyer.taggings.values_list("tag__name", flat=True))


def test_the_template_says_what_to_set_up_when_the_offering_has_no_endpoints():
    course = weekly_course("Bare Course")

    with pytest.raises(ValidationError, match="Webhook Generator"):
        automation_template_course_launch(offering_id=course.pk)
    with pytest.raises(ValidationError, match="No offering has id"):
        automation_template_course_launch(offering_id=999_999)
    assert not Automation.objects.filter(name__startswith="Bare Course").exists()


# Skip this wait ---------------------------------------------------------------------------


def test_a_test_subscriber_skips_a_wait_and_moves_on_at_once():
    flow = build(triggers=on_tag("Go"), steps=[wait(3, "days", "wait"), add("Done", "done")])
    tester = SubscriberFactory(is_test=True)
    tag(tester, "Go")
    settle()
    run = run_of(flow, tester)
    assert run.status == RunStatus.WAITING

    run_skip_wait(run_id=run.pk)
    settle()

    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert path(run) == ["wait", "done"]
    assert "wait skipped (test subscriber)" in run.steps.get(node_label="wait").detail


def test_skipping_a_wait_is_refused_for_real_people_and_for_runs_not_on_a_delay():
    flow = build(
        triggers=on_tag("Go"),
        steps=[
            wait(3, "days"),
            {"kind": "event", "settings": {"event_type": "member_login_created"}},
        ],
    )
    person, tester = SubscriberFactory(), SubscriberFactory(is_test=True)
    for someone in (person, tester):
        tag(someone, "Go")
    settle()
    due = run_of(flow, person).resume_at

    with pytest.raises(ValidationError, match="not a test subscriber"):
        run_skip_wait(run_id=run_of(flow, person).pk)
    run_skip_wait(run_id=run_of(flow, tester).pk)
    settle()
    with pytest.raises(ValidationError, match="not waiting on a delay"):
        run_skip_wait(run_id=run_of(flow, tester).pk)

    assert run_of(flow, person).resume_at == due
