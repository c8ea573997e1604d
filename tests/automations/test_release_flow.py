"""The guide's release automation: release webhook tag, weekly modules, revoke at the end.

It is the very flow ``seed_demo`` installs, so the demo is tested too."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.automations.models import Automation, RunStatus
from apps.automations.seed import seed_guide_automations
from apps.crm.models import EmailMessage
from apps.members.services import member_login_ensure
from tests.automations.helpers import path, run_of, settle, tag, tags_of
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

FC = "Foundation Course"


@pytest.fixture
def release_flow():
    seed_guide_automations()
    return Automation.objects.get(name=f"{FC} – Release")


def test_the_drip_releases_a_module_a_week_and_waits_for_revoke_at_the_end(release_flow):
    buyer = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        # purchase: the release webhook tag goes on at once; the flow waits for the login
        tag(buyer, f"{FC} – Purchase Success")
        settle()
        assert f"{FC} – Release Webhook" in tags_of(buyer)
        assert run_of(release_flow, buyer).current_node.label == "Wait for the member login"
        assert not EmailMessage.objects.exists()  # no welcome email before the login exists

        member_login_ensure(subscriber=buyer, source="release webhook")
        settle()
        assert EmailMessage.objects.get().subject == "Welcome to the Foundation Course"
        assert f"{FC} – Release Webhook" not in tags_of(buyer)

        clock.shift(timedelta(days=6, hours=23))
        settle()
        assert f"{FC} – Module 2 Access" not in tags_of(buyer)

        clock.shift(timedelta(hours=1))
        settle()
        assert {f"{FC} – Module 2 Access", f"{FC} – Update User"} <= tags_of(buyer)
        assert f"{FC} – Module 3 Access" not in tags_of(buyer)

        clock.shift(timedelta(days=7))
        settle()
        assert f"{FC} – Module 3 Access" in tags_of(buyer)
        waiting = run_of(release_flow, buyer)
        assert (waiting.status, waiting.current_node.kind) == (RunStatus.WAITING, "event")

        clock.shift(timedelta(days=30))
        settle()
        assert run_of(release_flow, buyer).status == RunStatus.WAITING

        tag(buyer, f"{FC} – Revoke Access")
        settle()

    run = run_of(release_flow, buyer)
    assert run.status == RunStatus.COMPLETED
    assert path(run)[-3:] == ["Event", "Remove tag", "Add tag"]
    assert path(run)[:4] == [
        "Add tag",
        "Wait for the member login",
        "Welcome email with the login",
        "Remove tag",
    ]
    assert (
        run.steps.filter(node_kind="event").order_by("seq").last().detail
        == "waiting for tag_add; event happened"
    )


def test_a_revoke_in_the_middle_of_a_7_day_delay_pulls_the_buyer_forward_at_once(release_flow):
    # given: a buyer three days into the first 7-day wait
    buyer = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tag(buyer, f"{FC} – Purchase Success")
        settle()
        member_login_ensure(subscriber=buyer, source="release webhook")
        settle()
        clock.shift(timedelta(days=3))
        before = run_of(release_flow, buyer)
        assert (before.status, before.current_node.kind) == (RunStatus.WAITING, "delay")
        revoked_at = timezone.now()

        # when: the refund tag arrives
        tag(buyer, f"{FC} – Revoke Access")
        settle()

    # then: pulled to the revoke step at once, skipping the modules it had not reached
    run = run_of(release_flow, buyer)
    assert run.status == RunStatus.COMPLETED
    event_step = run.steps.filter(node_kind="event").order_by("seq").last()
    assert event_step.detail.startswith("pulled forward from 'Delay'")
    assert event_step.at == revoked_at
    assert f"{FC} – Module 2 Access" not in tags_of(buyer)
    assert f"{FC} – Update User" in tags_of(buyer)
    assert [s.node_kind for s in run.steps.order_by("seq")] == [
        "add_tag",
        "event",
        "send_email",
        "remove_tag",
        "event",
        "remove_tag",
        "add_tag",
    ]


def test_a_revoke_tag_added_before_the_run_reaches_the_end_still_counts(release_flow):
    """An event that happened during the run is not missed because the run arrived late."""
    buyer = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False):
        tag(buyer, f"{FC} – Purchase Success")
        settle()
        member_login_ensure(subscriber=buyer, source="release webhook")
        settle()
    run = run_of(release_flow, buyer)
    # A paused flow does not move people, so the tag lands while the run stands still.
    release_flow.status = "paused"
    release_flow.save()
    tag(buyer, f"{FC} – Revoke Access")
    settle()
    assert run_of(release_flow, buyer).current_node_id == run.current_node_id

    release_flow.status = "live"
    release_flow.save()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(2):  # two weekly modules
            clock.shift(timedelta(days=8))
            settle()

    run = run_of(release_flow, buyer)
    assert run.status == RunStatus.COMPLETED
    assert (
        "had already happened during this run"
        in run.steps.filter(node_kind="event").order_by("seq").last().detail
    )
