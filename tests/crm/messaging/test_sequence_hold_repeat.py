"""Sequence Hold and Repeat, as Kit documents them (developers.kit.com, "Create a sequence"):

- ``repeat``: "by default a subscriber receives the emails once and is marked complete, but
  with repeat: true, re-adding the same subscriber ... resets their position to the start."
- ``hold`` (evergreen): "keeps subscribers active in the sequence after they've received every
  published email ... Without hold, subscribers transition to Completed and won't pick up
  future additions."
"""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from apps.crm.messaging.sending import emails_send
from apps.crm.messaging.sequences import sequence_place, sequence_subscribe, sequences_send
from apps.crm.models import Event, SequenceEmail, SequenceSubscription
from tests.automations.helpers import build, on_tag, run_of, settle, tag
from tests.crm.messaging.test_emails import _sequence
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def _go_through(person, sequence, clock) -> None:
    sequence_subscribe(subscriber=person, sequence=sequence, source="test")
    for _ in range(4):
        sequences_send()
        emails_send()
        clock.shift(timedelta(days=1, minutes=1))


def _subjects() -> list[str]:
    return [m.subject for m in mail.outbox]


def test_without_repeat_someone_who_completed_is_not_sent_the_sequence_again():
    sequence = _sequence(emails=2, gap_days=1)
    person = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _go_through(person, sequence, clock)
        assert sequence_place(subscriber=person, sequence=sequence) == "completed"

        started = sequence_subscribe(subscriber=person, sequence=sequence, source="again")
        _go_through(person, sequence, clock)

    assert started is False
    assert _subjects() == ["Nurture 1", "Nurture 2"]


def test_with_repeat_someone_who_completed_starts_again_from_the_first_email():
    sequence = _sequence(emails=2, gap_days=1)
    sequence.repeat = True
    sequence.save()
    person = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _go_through(person, sequence, clock)

        started = sequence_subscribe(subscriber=person, sequence=sequence, source="again")
        _go_through(person, sequence, clock)

    assert started is True
    assert _subjects() == ["Nurture 1", "Nurture 2", "Nurture 1", "Nurture 2"]
    sub = SequenceSubscription.objects.get()
    assert (sub.state, sub.round) == ("completed", 2)


def test_with_repeat_someone_still_in_the_sequence_keeps_their_place():
    sequence = _sequence(emails=3, gap_days=1)
    sequence.repeat = True
    sequence.save()
    person = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        sequence_subscribe(subscriber=person, sequence=sequence, source="test")
        sequences_send()
        clock.shift(timedelta(days=1, minutes=1))
        sequences_send()

        assert sequence_subscribe(subscriber=person, sequence=sequence, source="again") is False
        clock.shift(timedelta(days=1, minutes=1))
        sequences_send()
        emails_send()

    assert _subjects() == ["Nurture 1", "Nurture 2", "Nurture 3"]


def test_with_hold_a_subscriber_stays_at_the_end_and_gets_an_email_published_later():
    # given: a Hold sequence of two emails, gone through
    sequence = _sequence(emails=2, gap_days=1)
    sequence.hold = True
    sequence.save()
    person = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _go_through(person, sequence, clock)
        sub = SequenceSubscription.objects.get()
        assert (sub.state, sub.next_send_at) == ("active", None)
        assert sequence_place(subscriber=person, sequence=sequence) == "on hold"
        assert Event.objects.filter(type="course_hold").count() == 1
        assert not Event.objects.filter(type="course_complete").exists()

        # when: the creator publishes a third email (two days' delay) a week later
        clock.shift(timedelta(days=7))
        SequenceEmail.objects.create(
            sequence=sequence,
            position=3,
            subject="Nurture 3",
            body="New: {{ unsubscribe_url }}",
            delay_days=2,
            published=True,
        )
        sequences_send()
        emails_send()

    # then: the on-hold subscriber gets it (its delay from their last email has passed)
    assert _subjects() == ["Nurture 1", "Nurture 2", "Nurture 3"]
    sub.refresh_from_db()
    assert (sub.state, sub.next_send_at, sub.next_position) == ("active", None, 4)


def test_without_hold_a_completed_subscriber_misses_an_email_published_later():
    sequence = _sequence(emails=2, gap_days=1)
    person = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _go_through(person, sequence, clock)
        SequenceEmail.objects.create(
            sequence=sequence, position=3, subject="Nurture 3", body="x", published=True
        )
        sequences_send()
        emails_send()

    assert _subjects() == ["Nurture 1", "Nurture 2"]


def _flow_with_sequence(sequence):
    return build(
        triggers=on_tag("Bought"),
        steps=[{"kind": "email_sequence", "settings": {"sequence": sequence.name}}],
    )


def test_a_repurchaser_put_back_into_a_repeat_sequence_gets_it_again_and_the_run_ends():
    # given: a Repeat welcome sequence inside a flow, gone through once
    sequence = _sequence("Welcome", emails=1, gap_days=0)
    sequence.repeat = True
    sequence.save()
    flow = _flow_with_sequence(sequence)
    buyer = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tag(buyer, "Bought")
        settle()
        _go_through(buyer, sequence, clock)
        settle()
        assert run_of(flow, buyer).status == "completed"

        # when: they buy again
        buyer.taggings.all().delete()
        tag(buyer, "Bought")
        settle()
        _go_through(buyer, sequence, clock)
        settle()

    # then
    assert _subjects() == ["Welcome 1", "Welcome 1"]
    assert run_of(flow, buyer).entry_number == 2
    assert run_of(flow, buyer).status == "completed"


def test_a_flow_moves_on_when_the_sequence_will_not_run_again_or_is_on_hold():
    no_repeat = _sequence("Once", emails=1, gap_days=0)
    evergreen = _sequence("Evergreen", emails=1, gap_days=0)
    evergreen.hold = True
    evergreen.save()
    once_flow, hold_flow = _flow_with_sequence(no_repeat), _flow_with_sequence(evergreen)
    buyer = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _go_through(buyer, no_repeat, clock)  # completed it before the flow
        tag(buyer, "Bought")
        settle()
        _go_through(buyer, evergreen, clock)
        settle()

    once = run_of(once_flow, buyer)
    assert once.status == "completed"
    assert "Repeat is off" in once.steps.get().detail
    held = run_of(hold_flow, buyer)
    assert held.status == "completed"
    assert held.steps.get().detail.endswith("sequence finished")
