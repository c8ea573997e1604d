"""The guide's re-engagement pattern with email engagement: someone who has not opened an
email in 30 days gets a reminder, someone who has does not; "email opened" also starts a
flow. Time is moved by time-machine, not waited for."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from apps.crm.messaging.broadcasts import broadcast_send
from apps.crm.messaging.sending import emails_send
from apps.crm.models import ActivityKind, Broadcast, EmailMessage
from apps.crm.tracking import email_activity_record
from tests.automations.helpers import build, run_of, settle, tag, tags_of, wait, when
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

NOT_OPENED_30_DAYS = {"not": {"email": {"activity": "opened", "within_days": 30}}}


def _open(message: EmailMessage, n: int) -> None:
    email_activity_record(
        source="tessera", kind=ActivityKind.OPENED, event_id=f"open:{n}", message_id=message.pk
    )


def test_no_open_in_30_days_gets_a_reminder_and_an_opener_does_not():
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        # given two members in the re-engagement flow, and a newsletter both were sent
        ann = SubscriberFactory(email="ann@example.com", first_name="Ann")
        bob = SubscriberFactory(email="bob@example.com", first_name="Bob")
        flow = build(
            triggers=[{"event_type": "tag_add", "tag": "Member"}],
            steps=[
                wait(30, "days"),
                when(
                    NOT_OPENED_30_DAYS,
                    yes=[
                        {
                            "kind": "send_email",
                            "settings": {
                                "subject": "We miss you, {{ subscriber.first_name }}",
                                "body": "Here is what you missed.",
                            },
                            "label": "reminder",
                        }
                    ],
                    no=[],
                    label="not opened in 30 days?",
                ),
            ],
        )
        tag(ann, "Member")
        tag(bob, "Member")
        settle()
        broadcast_send(broadcast=Broadcast.objects.create(subject="News", content="Hello"))
        emails_send()
        mail.outbox.clear()

        # when Ann opens the newsletter ten days in, and thirty-one days pass
        clock.shift(timedelta(days=10))
        _open(EmailMessage.objects.get(subscriber=ann), 1)
        clock.shift(timedelta(days=21))
        settle()
        emails_send()

    # then only Bob gets the reminder; both runs finished
    assert [(m.to, m.subject) for m in mail.outbox] == [(["bob@example.com"], "We miss you, Bob")]
    assert run_of(flow, ann).status == run_of(flow, bob).status == "completed"


def test_an_open_from_long_ago_does_not_count_as_recent():
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        # given a subscriber who opened an email 40 days ago
        ann = SubscriberFactory()
        broadcast_send(broadcast=Broadcast.objects.create(subject="Old", content="Hi"))
        _open(EmailMessage.objects.get(), 1)
        clock.shift(timedelta(days=40))
        flow = build(
            triggers=[{"event_type": "tag_add", "tag": "Check"}],
            steps=[when(NOT_OPENED_30_DAYS, yes=[], no=[], label="not opened in 30 days?")],
        )

        # when the condition is checked now
        tag(ann, "Check")
        settle()

    # then she counts as not having opened
    steps = list(run_of(flow, ann).steps.values_list("branch", flat=True))
    assert "yes" in steps


def test_email_opened_starts_a_flow():
    # given a flow that starts when someone opens an email
    ann = SubscriberFactory()
    broadcast_send(broadcast=Broadcast.objects.create(subject="Hi", content="Hello"))
    flow = build(
        triggers=[{"event_type": "email_opened"}],
        steps=[{"kind": "add_tag", "settings": {"tag": "Engaged"}, "label": "add Engaged"}],
    )

    # when she opens it
    _open(EmailMessage.objects.get(), 1)
    settle()

    # then the flow ran for her
    assert run_of(flow, ann).status == "completed"
    assert "Engaged" in tags_of(ann)
