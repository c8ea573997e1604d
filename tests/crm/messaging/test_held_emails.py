"""A held email (an undefined variable) is visible in Health, on the run and the timeline, and
goes out by itself once its cause is gone; a creator can release or cancel it by hand."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apps.crm.messaging.held import emails_held_recheck
from apps.crm.messaging.outbox import HOLD_RECHECK_BASE
from apps.crm.messaging.sending import emails_send
from apps.crm.models import EmailMessage
from apps.crm.timeline import subscriber_timeline
from apps.members.services import member_login_ensure
from tests.automations.helpers import build, on_tag, run_of, settle, tag
from tests.factories import SubscriberFactory
from tests.test_admin_health import _health

pytestmark = pytest.mark.django_db

WELCOME = {
    "kind": "send_email",
    "label": "Welcome",
    "settings": {
        "subject": "Welcome",
        "body": "Log in at {{ login_url }}\n{% if set_password_url %}{{ set_password_url }}"
        "{% endif %}",
        "purchase": True,
    },
}


def _held_welcome():
    """The guide's flow with its delay left out: the email renders before the login exists."""
    flow = build(triggers=on_tag("Bought"), steps=[WELCOME])
    buyer = SubscriberFactory(email="early@example.com")
    tag(buyer, "Bought")
    settle()
    return flow, buyer, EmailMessage.objects.get(subscriber=buyer)


def test_a_held_welcome_shows_in_health_on_the_run_and_the_timeline(admin_client):
    # given / when
    flow, buyer, email = _held_welcome()

    # then: held, not sent blank
    assert email.status == "held"
    assert "'login_url' is undefined" in email.error
    step = run_of(flow, buyer).steps.get(node_kind="send_email")
    assert step.outcome == "held"
    assert step.detail.startswith("held: Held, not sent:")
    health = _health(admin_client)
    value, url, bad = health["Held emails (not sent: a variable had no value)"]
    assert bad and value.startswith("1 · newest, to early@example.com: Held, not sent:")
    assert [m.pk for m in admin_client.get(url).context["cl"].result_list] == [email.pk]
    entries = subscriber_timeline(subscriber=buyer)
    run_entry = next(e for e in entries if e.kind == "run")
    assert [s.outcome for s in run_entry.steps] == ["Passed, email held"]
    email_entry = next(e for e in entries if e.kind == "email")
    assert email_entry.failed and email_entry.detail.startswith("Held")


def test_the_login_being_created_sends_the_held_email_without_a_hand_requeue(admin_client):
    # given
    _, buyer, email = _held_welcome()

    # when: the release creates the login (its event brings the hold check forward)
    member_login_ensure(subscriber=buyer, source="release webhook")
    settle()
    emails_held_recheck()
    emails_send()

    # then
    email.refresh_from_db()
    assert email.status == "sent"
    assert "/login/" in email.body_text and "/password/set/" in email.body_text
    assert mail.outbox[-1].to == ["early@example.com"]
    value, _, bad = _health(admin_client)["Held emails (not sent: a variable had no value)"]
    assert (value, bad) == ("0", False)


def test_the_sweep_alone_releases_it_when_no_event_says_so(no_kick):
    # given: a held email, and its cause gone without an event reaching the consumer
    _, buyer, email = _held_welcome()
    member_login_ensure(subscriber=buyer, source="by hand")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        # when: beat's sweep runs before and after the next check is due
        assert emails_held_recheck() == 0
        clock.shift(HOLD_RECHECK_BASE + timedelta(seconds=1))
        assert emails_held_recheck() == 1

    # then
    email.refresh_from_db()
    assert (email.status, email.error) == ("queued", "")


def test_a_still_held_email_is_checked_again_later_and_later():
    _, _, email = _held_welcome()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        gaps = []
        for _ in range(3):
            email.refresh_from_db()
            clock.move_to(email.next_attempt_at)
            assert emails_held_recheck() == 1
            email.refresh_from_db()
            gaps.append(email.next_attempt_at - timezone.now())
    assert email.status == "held" and email.hold_checks == 3
    assert gaps == sorted(gaps) and gaps[0] < gaps[-1]


def test_a_creator_releases_or_cancels_held_emails_by_hand(admin_client):
    # given: two held welcomes; one subscriber now has a login
    _, buyer, email = _held_welcome()
    other = SubscriberFactory(email="other@example.com")
    tag(other, "Bought")
    settle()
    other_email = EmailMessage.objects.get(subscriber=other)
    member_login_ensure(subscriber=buyer, source="by hand")
    changelist = reverse("admin:crm_emailmessage_changelist")

    # when: release the first, cancel the second
    admin_client.post(
        changelist, {"action": "requeue", "_selected_action": [email.pk]}, follow=True
    )
    admin_client.post(
        changelist, {"action": "cancel", "_selected_action": [other_email.pk]}, follow=True
    )

    # then
    email.refresh_from_db()
    other_email.refresh_from_db()
    assert email.status == "queued"
    assert other_email.status == "cancelled"
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert emails_held_recheck() == 0  # a cancelled email is never checked again
