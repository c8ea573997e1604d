"""The broadcast audience builder's count endpoint, the review page and its verbs."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.crm.messaging.broadcasts import broadcast_schedule, broadcasts_send_due
from apps.crm.messaging.sending import emails_send
from apps.crm.models import Broadcast, BroadcastStatus, EmailMessage, SubscriberState
from apps.tags.conditions import condition_evaluate, subscribers_matching
from apps.tags.services import subscriber_tag_add
from tests.factories import SubscriberFactory, TagFactory
from tests.staff import FULL, NONE, staff_user

pytestmark = pytest.mark.django_db

COUNT_URL = "/admin/crm/broadcast/audience-count/"


@pytest.fixture
def gold_silver_refunded():
    gold, silver, refunded = (TagFactory(name=n) for n in ("Gold", "Silver", "Refunded"))
    people = {}
    for name, tags in {
        "g": [gold],
        "s": [silver],
        "gr": [gold, refunded],
        "none": [],
    }.items():
        people[name] = SubscriberFactory(email=f"{name}@example.com")
        for tag in tags:
            subscriber_tag_add(subscriber=people[name], tag=tag, source="test")
    condition = {"and": [{"or": [{"has": gold.pk}, {"has": silver.pk}]}, {"has_not": refunded.pk}]}
    return condition, people


def test_the_state_test_compiles_and_evaluates_alike():
    # given an active and an unconfirmed subscriber
    active = SubscriberFactory()
    SubscriberFactory(state=SubscriberState.INACTIVE)

    # when the audience asks for active ones
    matched = subscribers_matching({"state": "active"})

    # then the query and the Python check agree
    assert list(matched) == [active]
    assert condition_evaluate({"state": "active"}, [], state="active")
    assert not condition_evaluate({"state": "active"}, [], state="inactive")


def test_the_count_endpoint_counts_the_audience_in_few_queries(
    client, gold_silver_refunded, django_assert_max_num_queries
):
    # given a creator with full rights, and the audience "Gold OR Silver AND NOT Refunded"
    condition, _ = gold_silver_refunded
    client.force_login(staff_user("creator", FULL))

    # when the builder asks for the count
    with django_assert_max_num_queries(6):
        answer = client.get(COUNT_URL, {"condition": json.dumps(condition)})

    # then it is the two people who match, and an empty audience is everyone
    assert answer.status_code == 200
    assert answer.json() == {"count": 2}
    assert client.get(COUNT_URL, {"condition": ""}).json() == {"count": 4}


def test_the_count_endpoint_says_what_is_wrong_with_an_audience(client):
    # given a creator
    client.force_login(staff_user("creator", FULL))

    # when the audience is not JSON, or a rule lacks its value
    not_json = client.get(COUNT_URL, {"condition": "{oops"})
    no_value = client.get(
        COUNT_URL, {"condition": json.dumps({"field": {"key": "plan", "op": "equals"}})}
    )

    # then both answer 400 with a message, never 500
    assert not_json.status_code == 400
    assert "build it again" in not_json.json()["error"]
    assert no_value.status_code == 400
    assert "needs a value" in no_value.json()["error"]


def test_the_count_endpoint_is_for_staff_with_the_rights(client):
    # given a staff user with no rights, and someone not signed in
    anonymous = client.get(COUNT_URL)
    client.force_login(staff_user("nobody", NONE))

    # when they ask for a count
    denied = client.get(COUNT_URL)

    # then the first is sent to the login page and the second refused
    assert anonymous.status_code == 302
    assert denied.status_code == 403


def test_review_then_schedule_then_the_sweep_sends(admin_client, gold_silver_refunded, settings):
    # given a draft broadcast to "Gold OR Silver AND NOT Refunded", in a site at UTC+1
    settings.TIME_ZONE = "Europe/Paris"
    condition, _ = gold_silver_refunded
    broadcast = Broadcast.objects.create(subject="Launch", content="Hi", condition=condition)
    review = f"/admin/crm/broadcast/{broadcast.pk}/send/"

    # when the creator opens the review page, then schedules for a local time
    page = admin_client.get(review).content.decode()
    when = (timezone.now() + timedelta(days=1)).astimezone(timezone.get_default_timezone())
    answer = admin_client.post(
        review, {"action": "schedule", "send_at": when.strftime("%Y-%m-%dT%H:%M")}
    )

    # then the page stated the count, and the time was read in the site's zone
    assert 'id="recipient-count">2<' in page
    assert answer.status_code == 302
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SCHEDULED
    assert abs((broadcast.send_at - when).total_seconds()) < 60
    assert not EmailMessage.objects.exists()

    # when the due sweep runs after that time
    broadcasts_send_due(now=broadcast.send_at + timedelta(seconds=1))

    # then the two are mailed and the broadcast is read-only
    assert EmailMessage.objects.filter(broadcast=broadcast).count() == 2
    page = admin_client.get(f"/admin/crm/broadcast/{broadcast.pk}/change/").content.decode()
    assert 'name="subject"' not in page
    assert "(has Gold OR has Silver) AND does not have Refunded" in page


def test_scheduling_refuses_a_past_time_or_a_sender_off_the_domains(admin_client, settings):
    # given a broadcast whose sender is on no sending domain
    settings.EMAIL_SENDING_DOMAINS = ["example.com"]
    broadcast = Broadcast.objects.create(subject="Hi", content="x", email_address="me@gmail.com")
    review = f"/admin/crm/broadcast/{broadcast.pk}/send/"

    # when the creator tries to send it now, or schedule it in the past
    now = admin_client.post(review, {"action": "now"})
    past = admin_client.post(review, {"action": "schedule", "send_at": "2001-01-01T09:00"})
    bad = admin_client.post(review, {"action": "schedule", "send_at": "tomorrow"})

    # then each says why, and nothing is sent or scheduled
    assert "is not on a sending domain" in now.content.decode()
    assert "is not on a sending domain" in past.content.decode()
    assert "Pick the date and time" in bad.content.decode()
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.DRAFT
    assert not EmailMessage.objects.exists()


def test_a_test_goes_to_the_creator_and_not_into_the_report(admin_user, client):
    # given a creator with an address and one subscriber
    admin_user.email = "creator@example.com"
    admin_user.save()
    client.force_login(admin_user)
    SubscriberFactory(first_name="Ann")
    broadcast = Broadcast.objects.create(
        subject="Hello {{ subscriber.first_name }}", content="Hi", body_format="markdown"
    )

    # when they send a test
    client.post(f"/admin/crm/broadcast/{broadcast.pk}/test/")
    emails_send()

    # then it reached them, rendered, and the broadcast's report counts nobody
    assert [m.to for m in mail.outbox] == [["creator@example.com"]]
    assert mail.outbox[0].subject == "[Test] Hello Ann"
    assert "List-Unsubscribe" not in mail.outbox[0].extra_headers
    assert not EmailMessage.objects.filter(broadcast=broadcast).exists()
    assert Broadcast.objects.get(pk=broadcast.pk).status == BroadcastStatus.DRAFT


def test_the_v3_schedule_and_the_admin_schedule_meet_in_the_same_sweep(gold_silver_refunded):
    # given one broadcast scheduled by the admin's verb
    condition, _ = gold_silver_refunded
    broadcast = Broadcast.objects.create(subject="Hi", content="x", condition=condition)
    broadcast_schedule(broadcast=broadcast, send_at=timezone.now() + timedelta(minutes=5))

    # when the due sweep runs before and after
    before = broadcasts_send_due()
    after = broadcasts_send_due(now=timezone.now() + timedelta(minutes=6))

    # then it went out once, when due
    assert (before, after) == (0, 2)


def test_the_review_page_reads_in_few_queries(
    admin_client, gold_silver_refunded, django_assert_max_num_queries
):
    # given a draft broadcast with an audience
    condition, _ = gold_silver_refunded
    broadcast = Broadcast.objects.create(subject="Launch", content="Hi", condition=condition)

    # when the creator opens its review page
    with django_assert_max_num_queries(8):
        page = admin_client.get(f"/admin/crm/broadcast/{broadcast.pk}/send/")

    # then it states the count without a query per subscriber
    assert page.status_code == 200
    assert 'id="recipient-count">2<' in page.content.decode()


def test_the_send_now_action_refuses_a_sender_off_the_domains(admin_client, settings):
    # given a broadcast whose sender left the sending domains
    settings.EMAIL_SENDING_DOMAINS = ["example.com"]
    SubscriberFactory()
    broadcast = Broadcast.objects.create(subject="Hi", content="x", email_address="me@gmail.com")

    # when the list's action is confirmed
    answer = admin_client.post(
        "/admin/crm/broadcast/",
        {"action": "send_now", "_selected_action": [broadcast.pk], "confirmed": "yes"},
        follow=True,
    )

    # then it says why, and nothing is queued
    assert "is not on a sending domain" in answer.content.decode()
    assert not EmailMessage.objects.exists()
