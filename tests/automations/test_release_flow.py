"""The guide's release automation: release webhook tag, weekly modules, revoke at the end.

It is the very flow ``seed_demo`` installs, so the demo is tested too."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.automations.models import Automation, RunStatus
from apps.automations.seed import seed_guide_automations
from apps.automations.templates import RELEASE_WAIT_LABEL
from apps.crm.models import EmailMessage
from apps.members.models import Operation
from apps.members.services import operation_run
from apps.offerings.models import Offering
from tests.automations.helpers import path, run_of, settle, tag, tags_of, untag
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db

FC = "Foundation Course"


@pytest.fixture
def release_flow():
    weekly_course(FC)
    seed_guide_automations()
    return Automation.objects.get(name=f"{FC} – Release")


def release(buyer) -> str:
    """What the Release Offering webhook does when the release tag fires it."""
    return operation_run(
        operation=Operation.RELEASE,
        offering=Offering.objects.get(name=FC),
        email=buyer.email,
        source="release webhook",
    )


def test_the_drip_releases_a_module_a_week_and_waits_for_revoke_at_the_end(release_flow):
    buyer = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        # purchase: the release webhook tag goes on at once; the flow waits for the release
        tag(buyer, f"{FC} – Purchase Success")
        settle()
        assert f"{FC} – Release Webhook" in tags_of(buyer)
        assert run_of(release_flow, buyer).current_node.label == RELEASE_WAIT_LABEL
        assert not EmailMessage.objects.exists()  # no welcome email before the release

        release(buyer)
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
        RELEASE_WAIT_LABEL,
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
        release(buyer)
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
        release(buyer)
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


# Returning members (issue 13): the release always ends in "access granted" for the offering,
# so a buyer who already has a login is welcomed like a new one.


def _returning_member(email: str = "mia@example.com"):
    """A member with a login and a password of their own, and another course already."""
    buyer = SubscriberFactory(email=email, first_name="Mia")
    other = weekly_course("Advanced Course", modules=1)
    operation_run(operation=Operation.RELEASE, offering=other, email=email, source="earlier")
    user = buyer.member.user
    user.set_password("her own pass 2026")
    user.save(update_fields=["password"])
    settle()
    return buyer


def _purchase_and_release(buyer) -> None:
    tag(buyer, f"{FC} – Purchase Success")
    settle()
    release(buyer)
    settle()


def _welcome(buyer) -> EmailMessage:
    return EmailMessage.objects.filter(
        subscriber=buyer, subject="Welcome to the Foundation Course"
    ).latest("pk")


def test_a_member_buying_a_second_course_gets_the_welcome_email_and_the_modules(release_flow):
    # given: a member who already has a login and a password
    buyer = _returning_member()

    with time_machine.travel(timezone.now(), tick=False) as clock:
        # when: they buy the Foundation Course (the release creates no login this time)
        _purchase_and_release(buyer)

        # then: the flow did not wait for a login event; the welcome email is queued with a
        # one-time login link (no set-password link: they have a password)
        run = run_of(release_flow, buyer)
        assert run.current_node.kind == "delay"
        welcome = _welcome(buyer)
        assert welcome.status == "queued"
        assert "/login/link/" in welcome.body_text
        assert "Choose your password" not in welcome.body_text
        granted = buyer.events.filter(type="access_granted").latest("pk")
        assert granted.payload["new_login"] is False
        assert f"{FC} – Release Webhook" not in tags_of(buyer)

        clock.shift(timedelta(days=7, minutes=1))
        settle()
        assert {f"{FC} – Module 2 Access", f"{FC} – Update User"} <= tags_of(buyer)

    assert not run.steps.filter(node_kind="event", detail__contains="member_login").exists()


def test_a_repurchase_after_a_refund_is_welcomed_again(release_flow):
    # given: a buyer who went through the flow, then was refunded (revoked)
    buyer = _returning_member("ravi@example.com")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _purchase_and_release(buyer)
        tag(buyer, f"{FC} – Revoke Access")
        operation_run(
            operation=Operation.REVOKE,
            offering=Offering.objects.get(name=FC),
            email=buyer.email,
            source="refund",
        )
        settle()
        first = run_of(release_flow, buyer)
        assert first.status == RunStatus.COMPLETED

        # when: they buy again (the purchase tag is added anew) and the release runs
        clock.shift(timedelta(days=3))
        untag(buyer, f"{FC} – Purchase Success")
        _purchase_and_release(buyer)

    # then: a second run, past the release step, with a second welcome email
    second = run_of(release_flow, buyer)
    assert second.entry_number == 2
    assert second.current_node.kind == "delay"
    assert (
        EmailMessage.objects.filter(
            subscriber=buyer, subject="Welcome to the Foundation Course"
        ).count()
        == 2
    )
    assert buyer.grants.get(offering__name=FC).revoked_at is None


def test_a_new_buyers_path_is_unchanged(release_flow):
    # given / when: a first-time buyer
    buyer = SubscriberFactory(email="new@example.com")
    _purchase_and_release(buyer)

    # then: a new login, a set-password link in the welcome email, the drip's first wait
    run = run_of(release_flow, buyer)
    assert path(run)[:3] == ["Add tag", RELEASE_WAIT_LABEL, "Welcome email with the login"]
    assert run.current_node.kind == "delay"
    assert "Choose your password (the link works once): http" in _welcome(buyer).body_text
    assert buyer.events.filter(type="access_granted").get().payload["new_login"] is True


def test_a_release_that_never_comes_times_out_and_the_email_waits_held(release_flow):
    # given: the release webhook never ran (no endpoint, or it failed for good)
    buyer = SubscriberFactory(email="stranded@example.com")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tag(buyer, f"{FC} – Purchase Success")
        settle()

        # when: the wait's limit passes
        clock.shift(timedelta(days=2, minutes=1))
        settle()

    # then: the run moved on instead of waiting for ever, and the email is held, not blank
    run = run_of(release_flow, buyer)
    event_step = run.steps.get(node_kind="event")
    assert event_step.detail.endswith(
        "timed out: the event did not happen within 2 days; carried on"
    )
    email_step = run.steps.get(node_kind="send_email")
    assert email_step.outcome == "held"
    assert email_step.detail.startswith("held: ")
    assert _welcome(buyer).status == "held"
