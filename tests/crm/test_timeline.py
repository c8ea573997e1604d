"""The subscriber page: one timeline of everything, with access and progress beside it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.crm.events import event_record
from apps.crm.models import EmailMessage, Event, Hook, WebhookDelivery
from apps.crm.timeline import TIMELINE_LIMIT, subscriber_timeline
from apps.members.models import CallStatus, Operation, WebhookCall
from apps.members.services import operation_run
from apps.offerings.models import Lesson
from apps.offerings.services import lesson_complete
from tests.automations.helpers import add, build, on_tag, settle, tag, when
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db


def _page(client, subscriber) -> str:
    response = client.get(reverse("admin:crm_subscriber_change", args=[subscriber.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _email(subscriber, n, status="sent"):
    return EmailMessage.objects.create(
        subscriber=subscriber,
        key=f"test:{subscriber.pk}:{n}",
        kind="system",
        to_email=subscriber.email,
        subject=f"Mail {n}",
        body_text="x",
        status=status,
        error="SMTP said no" if status == "failed" else "",
    )


def _history(person):
    """A VIP run down the Yes path, a hook delivery for the tag event, an email, a webhook
    call about them, and access to a course with one lesson done."""
    build(
        name="VIP check",
        triggers=on_tag("Buyer"),
        steps=[
            when(
                {"has": "VIP"},
                yes=[add("Gold", label="Send the gold welcome")],
                no=[add("Plain", label="Send the plain welcome")],
                label="Is VIP?",
            )
        ],
    )
    tag(person, "VIP")
    tag(person, "Buyer")
    settle()
    hook = Hook.objects.create(
        event_name="tag_add", tag_id=1, target_url="https://example.com/in", secret="s"
    )
    event = Event.objects.filter(subscriber=person, type="tag_add").latest("pk")
    WebhookDelivery.objects.create(
        key=f"hook:{hook.pk}:event:{event.pk}",
        url="https://example.com/in",
        status="failed",
        attempts=9,
        last_status_code=500,
    )
    _email(person, 1, "failed")
    WebhookCall.objects.create(
        payload={"email": person.email},
        http_status=202,
        status=CallStatus.DONE,
        result="ok",
        subscriber=person,
    )
    course = weekly_course("Foundation Course")
    operation_run(operation=Operation.RELEASE, offering=course, email=person.email, source="t")
    lesson_complete(subscriber=person, lesson=Lesson.objects.get(title="M1 lesson 1"))


def test_the_page_shows_runs_with_their_path_tags_emails_hooks_calls_and_access(admin_client):
    # given
    person = SubscriberFactory(email="mia@example.com")
    _history(person)

    # when
    page = _page(admin_client, person)
    entries = subscriber_timeline(subscriber=person)

    # then: one list, newest first
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    kinds = {e.kind for e in entries}
    assert {"run", "tag", "email", "delivery", "webhook call", "event"} <= kinds
    run = next(e for e in entries if e.kind == "run")
    assert [(s.label, s.branch) for s in run.steps][:2] == [
        ("Is VIP?", "yes"),
        ("Send the gold welcome", ""),
    ]
    assert "Send the gold welcome" in page and "Send the plain welcome" not in page
    assert "→ Yes path" in page
    # and the runs table says the same in one line
    assert "Is VIP? (yes) → Send the gold welcome" in page
    assert "Tag added: VIP" in page and "by test" in page
    assert "Email: Mail 1" in page and "SMTP said no" in page
    assert "Hook delivery to https://example.com" in page
    assert "example.com/in" not in page  # the host only: a path may be a capability
    assert "Webhook call:" in page
    assert "Lesson completed" in page
    # beside it: access and progress
    assert "Access and progress" in page
    assert "modules 1/3 · lessons 1/6 (17 %)" in page
    assert "Member login" in page


def test_another_subscribers_history_stays_off_the_page(admin_client):
    person, other = SubscriberFactory(), SubscriberFactory(email="other@example.com")
    _history(other)
    event_record(subscriber_id=person.pk, type="subscriber_activate", payload={})

    entries = subscriber_timeline(subscriber=person)

    assert [e.title for e in entries] == ["Subscriber activated"]
    page = _page(admin_client, person)
    assert "other@example.com" not in page.split('id="timeline"', 1)[1]
    assert "No access granted." in page


def _grow(person, n):
    for i in range(n):
        event_record(subscriber_id=person.pk, type="subscriber_activate", payload={"n": i})
        _email(person, i)
    for i in range(n // 10):
        tag(person, f"Go {i}")


def _count(client, person) -> int:
    _page(client, person)
    with CaptureQueriesContext(connection) as ctx:
        _page(client, person)
    return len(ctx.captured_queries)


def test_the_page_costs_the_same_queries_for_a_short_and_a_long_history(admin_client):
    # given: each "Go n" tag starts a run, so runs and steps grow with the history too
    for i in range(30):
        build(name=f"Flow {i}", triggers=on_tag(f"Go {i}"), steps=[add(f"Done {i}")])
    short, long = SubscriberFactory(), SubscriberFactory()
    _grow(short, 10)
    _grow(long, 300)
    settle()

    # when
    short_queries, long_queries = _count(admin_client, short), _count(admin_client, long)

    # then
    assert long_queries == short_queries
    assert len(subscriber_timeline(subscriber=long)) == TIMELINE_LIMIT
    assert f"the latest {TIMELINE_LIMIT}" in _page(admin_client, long)


def test_a_clerk_sees_only_the_kinds_of_entry_they_may_view(client):
    """Viewing a subscriber shows their tags; emails, deliveries, calls, events and runs
    each need their own view permission."""
    from django.contrib.auth.models import Permission, User

    person = SubscriberFactory(email="mia@example.com")
    _history(person)
    clerk = User.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_subscriber"))
    client.force_login(clerk)

    page = _page(client, person)

    assert "Tag added: VIP" in page
    for hidden in ("Email: Mail 1", "Hook delivery to", "Webhook call:", "Lesson completed"):
        assert hidden not in page
    assert "→ Yes path" not in page

    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_emailmessage", "view_run"])
    )
    clerk = User.objects.get(pk=clerk.pk)  # permissions are cached per user object
    client.force_login(clerk)
    page = _page(client, person)
    assert "Email: Mail 1" in page and "→ Yes path" in page
    assert "Hook delivery to" not in page
