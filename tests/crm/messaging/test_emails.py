from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from apps.crm.dispatch import events_dispatch
from apps.crm.messaging.broadcasts import broadcast_send
from apps.crm.messaging.held import emails_requeue
from apps.crm.messaging.outbox import emails_enqueue
from apps.crm.messaging.rendering import Draft
from apps.crm.messaging.sending import emails_send
from apps.crm.messaging.sequences import sequence_subscribe, sequences_send, sequences_sweep_batch
from apps.crm.models import (
    Broadcast,
    EmailMessage,
    EmailStatus,
    Event,
    Form,
    Sequence,
    SequenceEmail,
    SequenceSubscription,
    Subscriber,
    SubscriberState,
)
from apps.crm.preferences import preferences_url, unsubscribe_url
from apps.crm.services import custom_field_create, subscriber_fields_set
from apps.crm.signups import form_confirm_url, purchase_create
from apps.tags.models import Tagging
from apps.tags.services import subscriber_tag_add, tag_get_or_create
from tests.automations.helpers import add, build, on_tag, run_of, settle, tag, wait
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def _sequence(name="Nurture", *, purchase=False, emails=3, gap_days=2) -> Sequence:
    sequence = Sequence.objects.create(name=name, is_purchase=purchase)
    for i in range(1, emails + 1):
        SequenceEmail.objects.create(
            sequence=sequence,
            position=i,
            subject=f"{name} {i}",
            body=f"Hi {{{{ subscriber.first_name }}}}, part {i}. {{{{ unsubscribe_url }}}}",
            delay_days=0 if i == 1 else gap_days,
            published=True,
        )
    return sequence


# Held emails and previews ---------------------------------------------------------------


def test_an_email_whose_password_would_render_blank_is_held_with_a_reason():
    custom_field_create(label="accessally_password")
    person = SubscriberFactory()

    emails_enqueue(
        [
            Draft(
                subscriber=person,
                key="w1",
                kind="automation",
                subject="Welcome",
                body="Your password: {{ subscriber.accessally_password }}",
            )
        ]
    )
    emails_send()

    held = EmailMessage.objects.get()
    assert held.status == EmailStatus.HELD
    assert "subscriber.accessally_password is undefined" in held.error
    assert mail.outbox == []

    # once the data is there, the held email (which kept its template) can go
    subscriber_fields_set(subscriber=person, values={"accessally_password": "s3cret-pass"})
    assert emails_requeue(message_ids=[held.pk]) == 1
    emails_send()
    assert mail.outbox[0].body == "Your password: s3cret-pass"


def test_the_admin_preview_shows_a_liquid_error_with_its_line(admin_client):
    person = SubscriberFactory(first_name="Ada")
    sequence = _sequence(emails=1)
    email = sequence.emails.get()
    email.body = "Hello {{ subscriber.first_name }},\nyour code: {{ subscriber.code }}\n"
    email.save()
    url = reverse("admin:crm_sequenceemail_preview", args=[email.pk])

    page = admin_client.get(url, {"subscriber": person.pk}).content.decode()

    assert "This email cannot be sent as it is: line 2: subscriber.code is undefined" in page

    email.body = "Hello {{ subscriber.first_name }}!"
    email.save()
    assert "Hello Ada!" in admin_client.get(url, {"subscriber": person.pk}).content.decode()


def test_invalid_liquid_is_refused_on_save_with_its_line(admin_client):
    sequence = _sequence(emails=1)
    email = sequence.emails.get()

    page = admin_client.post(
        reverse("admin:crm_sequenceemail_change", args=[email.pk]),
        {
            "position": 1,
            "subject": "x",
            "body": "ok\n{% if %}",
            "delay_days": 0,
            "delay_hours": 0,
            "published": "on",
            "send_days": ["0", "1", "2", "3", "4", "5", "6"],
        },
    )

    assert "Invalid Liquid: line 2: missing expression" in page.content.decode()


# Sequences --------------------------------------------------------------------------------


def test_a_sequence_sends_each_email_after_its_delay_and_completes():
    sequence = _sequence(gap_days=2)
    person = SubscriberFactory(first_name="Ada")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        sequence_subscribe(subscriber=person, sequence=sequence, source="test")
        sequences_send()
        emails_send()
        clock.shift(timedelta(days=1))
        sequences_send()
        assert [m.subject for m in mail.outbox] == ["Nurture 1"]
        clock.shift(timedelta(days=1))
        sequences_send()
        clock.shift(timedelta(days=2))
        sequences_send()
        emails_send()

    assert [m.subject for m in mail.outbox] == ["Nurture 1", "Nurture 2", "Nurture 3"]
    assert "Hi Ada, part 1. http" in mail.outbox[0].body  # inside the layout
    assert SequenceSubscription.objects.get().state == "completed"
    assert Event.objects.filter(type="course_complete", payload__sequence_id=sequence.pk).exists()


def test_draft_emails_are_skipped_and_send_days_respected():
    sequence = _sequence(emails=3, gap_days=0)
    SequenceEmail.objects.filter(position=2).update(published=False)
    SequenceEmail.objects.filter(position=3).update(send_days=[0])  # Mondays only
    person = SubscriberFactory()
    saturday = timezone.now().replace(hour=12) + timedelta(days=(5 - timezone.now().weekday()) % 7)
    with time_machine.travel(saturday, tick=False) as clock:
        sequence_subscribe(subscriber=person, sequence=sequence, source="test")
        sequences_send()
        sequences_send()
        emails_send()
        assert [m.subject for m in mail.outbox] == ["Nurture 1"]
        clock.shift(timedelta(days=2))  # Monday
        sequences_send()
        emails_send()

    assert [m.subject for m in mail.outbox] == ["Nurture 1", "Nurture 3"]


def test_the_sending_sweep_does_not_grow_with_the_number_of_due_emails(
    django_assert_max_num_queries,
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    sequence = _sequence(emails=2, gap_days=1)

    def queries_for(n: int) -> int:
        people = SubscriberFactory.create_batch(n)
        for person in people:
            sequence_subscribe(subscriber=person, sequence=sequence, source="test")
        with CaptureQueriesContext(connection) as ctx:
            assert sequences_sweep_batch() == n
        return len(ctx.captured_queries)

    few = queries_for(3)
    many = queries_for(60)
    assert many <= few + 2  # bulk inserts may split into one more batch on SQLite


# Sending, unsubscribe and preferences ----------------------------------------------------


def test_unsubscribing_through_the_link_stops_marketing_exits_runs_and_keeps_purchases(client):
    # given: a buyer in a marketing sequence, a purchase sequence and a waiting automation run
    buyer = SubscriberFactory(email="buyer@example.com")
    marketing, purchase = (
        _sequence("Tips", gap_days=1),
        _sequence("Course", purchase=True, gap_days=1),
    )
    flow = build(triggers=on_tag("Go"), steps=[wait(3, "days"), add("Later")])
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tag(buyer, "Go")
        settle()
        for sequence in (marketing, purchase):
            sequence_subscribe(subscriber=buyer, sequence=sequence, source="test")
        sequences_send()
        emails_send()
        assert len(mail.outbox) == 2

        # when: they follow the link in an email and keep purchase emails
        path = urlsplit(unsubscribe_url(buyer)).path
        assert (
            "Keep emails about courses and products I bought" in client.get(path).content.decode()
        )
        done = client.post(path, {"keep_purchase": "1"})
        settle()
        clock.shift(timedelta(days=1))
        sequences_send()
        emails_send()
        broadcast = Broadcast.objects.create(subject="News", content="News!")
        broadcast_send(broadcast=broadcast)
        emails_send()

    # then
    buyer.refresh_from_db()
    assert "You are unsubscribed" in done.content.decode()
    assert buyer.state == SubscriberState.CANCELLED
    assert run_of(flow, buyer).status == "exited"
    assert [m.subject for m in mail.outbox] == ["Tips 1", "Course 1", "Course 2"]
    assert SequenceSubscription.objects.get(sequence=marketing).state == "cancelled"
    assert not EmailMessage.objects.filter(broadcast=broadcast).exists()
    assert Event.objects.filter(subscriber=buyer).exists()  # history kept


def test_unsubscribing_from_everything_stops_purchase_emails_too(client):
    buyer = SubscriberFactory()
    purchase = _sequence("Course", purchase=True, gap_days=1)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        sequence_subscribe(subscriber=buyer, sequence=purchase, source="test")
        sequences_send()
        client.post(urlsplit(unsubscribe_url(buyer)).path, {})
        emails_send()
        clock.shift(timedelta(days=1))
        sequences_send()
        emails_send()

    assert mail.outbox == []
    assert EmailMessage.objects.get().status == EmailStatus.SUPPRESSED
    assert SequenceSubscription.objects.get().state == "cancelled"


def test_a_queued_marketing_email_is_not_sent_after_an_unsubscribe():
    person = SubscriberFactory()
    emails_enqueue([Draft(subscriber=person, key="m1", kind="broadcast", subject="x", body="y")])
    from apps.crm.services import subscriber_unsubscribe

    subscriber_unsubscribe(subscriber=person)
    emails_send()

    assert mail.outbox == []
    assert "unsubscribed" in EmailMessage.objects.get().error


def test_the_preferences_page_leaves_a_sequence_and_broadcasts(client):
    person = SubscriberFactory()
    tips, course = _sequence("Tips"), _sequence("Course", purchase=True)
    for sequence in (tips, course):
        sequence_subscribe(subscriber=person, sequence=sequence, source="test")
    path = urlsplit(preferences_url(person)).path

    page = client.get(path).content.decode()
    client.post(path, {"sequence": [str(course.pk)], "keep_purchase": "1"})

    assert "Tips" in page and "Course" in page
    person.refresh_from_db()
    assert person.broadcasts_opted_out is True
    assert SequenceSubscription.objects.get(sequence=tips).state == "cancelled"
    assert SequenceSubscription.objects.get(sequence=course).state == "active"


def test_a_forged_link_is_refused(client):
    person = SubscriberFactory()
    path = urlsplit(unsubscribe_url(person)).path
    assert client.get(path[:-3] + "xx/").status_code == 400
    assert client.get("/email/preferences/bogus/").status_code == 400


# Forms, purchases, broadcasts -------------------------------------------------------------


def test_the_hosted_form_subscribes_tags_and_starts_automations(client):
    vip = tag_get_or_create(name="Waitlist")[0]
    form = Form.objects.create(name="Waitlist", tag_ids=[vip.pk])
    flow = build(
        triggers=[{"event_type": "form_subscribe", "form_id": form.pk}], steps=[add("Welcomed")]
    )

    page = client.post(
        reverse("crm:form", args=[form.pk]), {"email": "New@Example.com", "first_name": "New"}
    )
    settle()

    person = Subscriber.objects.get(email="new@example.com")
    assert "on the list" in page.content.decode()
    assert Tagging.objects.filter(subscriber=person, tag=vip).exists()
    assert run_of(flow, person).status == "completed"


def test_double_opt_in_waits_for_the_confirmation_link(client):
    form = Form.objects.create(name="Confirmed list", double_opt_in=True)

    # The link is signed with a timestamp in seconds: one frozen instant, so the email's
    # link and the one computed here cannot straddle a second.
    with time_machine.travel(timezone.now(), tick=False):
        client.post(reverse("crm:form", args=[form.pk]), {"email": "c@example.com"})
        emails_send()
        person = Subscriber.objects.get()
        assert person.state == SubscriberState.INACTIVE
        assert not Event.objects.filter(type="form_subscribe").exists()
        confirm = mail.outbox[0].body
        link = form_confirm_url(person.form_subscriptions.get())
    assert link in confirm

    client.get(urlsplit(link).path)

    person.refresh_from_db()
    assert person.state == SubscriberState.ACTIVE
    assert Event.objects.filter(type="form_subscribe").count() == 1


def test_a_bad_form_email_says_so(client):
    form = Form.objects.create(name="F")
    page = client.post(reverse("crm:form", args=[form.pk]), {"email": "nope"})
    assert "is not a valid email address" in page.content.decode()


def test_purchases_are_recorded_once_and_validated():
    data = {
        "transaction_id": "T9",
        "email_address": "p@example.com",
        "total": "10",
        "products": [{"pid": 1, "lid": 2, "name": "Course"}],
    }
    first = purchase_create(data=data)
    again = purchase_create(data=data)

    assert first.pk == again.pk
    assert Event.objects.filter(type="product_purchase", payload__product_id="1").count() == 1
    with pytest.raises(ValidationError, match="transaction_id can't be blank"):
        purchase_create(data={"email_address": "p@example.com"})
    with pytest.raises(ValidationError, match=r"products\[0\].lid can't be blank"):
        purchase_create(
            data={
                "transaction_id": "T10",
                "email_address": "p@example.com",
                "products": [{"pid": 1}],
            }
        )


def test_a_broadcast_reaches_its_segment_once():
    gold = tag_get_or_create(name="Gold")[0]
    members = SubscriberFactory.create_batch(4)
    for person in members[:2]:
        subscriber_tag_add(subscriber=person, tag=gold, source="test")
    members[1].broadcasts_opted_out = True
    members[1].save()
    broadcast = Broadcast.objects.create(
        subject="Gold news", content="Hi", condition={"has": gold.pk}
    )

    assert broadcast_send(broadcast=broadcast) == 1
    assert broadcast_send(broadcast=broadcast) == 0
    emails_send()
    events_dispatch()
    assert [m.to for m in mail.outbox] == [[members[0].email]]
