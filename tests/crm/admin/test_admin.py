import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.crm.models import Event, Subscriber, SubscriberFieldValue
from apps.crm.services import custom_field_create, subscriber_fields_set
from apps.tags.event_types import TAG_ADD, TAG_REMOVE
from apps.tags.models import Tag, Tagging
from apps.tags.services import tag_bulk_add
from tests.factories import SubscriberFactory, TagFactory

pytestmark = pytest.mark.django_db


def _queries(client, url) -> int:
    client.get(url)  # warm per-process caches (content types) so only the page is counted
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return len(ctx.captured_queries)


def _populate(n: int) -> None:
    tag = Tag.objects.first() or TagFactory()
    field = custom_field_create(label=f"Field {Subscriber.objects.count()}")
    subscribers = SubscriberFactory.create_batch(n)
    tag_bulk_add(tag=tag, subscriber_ids=[s.pk for s in subscribers], source="test")
    for s in subscribers[:3]:
        subscriber_fields_set(subscriber=s, values={field.key: "x"})
    TagFactory.create_batch(n // 5)


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:crm_subscriber_changelist",
        "admin:tags_tag_changelist",
        "admin:crm_event_changelist",
        "admin:crm_customfield_changelist",
    ],
)
def test_list_pages_issue_the_same_number_of_queries_whatever_the_rows(admin_client, url_name):
    url = reverse(url_name)
    _populate(5)
    few = _queries(admin_client, url)

    _populate(60)
    many = _queries(admin_client, url)

    assert many == few


def test_the_subscriber_page_shows_tags_and_field_values(admin_client):
    subscriber = SubscriberFactory()
    tag = TagFactory(name="VIP Member")
    tag_bulk_add(tag=tag, subscriber_ids=[subscriber.pk], source="api")
    field = custom_field_create(label="City")
    subscriber_fields_set(subscriber=subscriber, values={field.key: "Oslo"})

    response = admin_client.get(reverse("admin:crm_subscriber_change", args=[subscriber.pk]))

    assert response.status_code == 200
    assert b"VIP Member" in response.content
    assert b"Oslo" in response.content


def test_the_add_tag_action_tags_through_the_service(admin_client):
    # given
    tagged, untagged = SubscriberFactory(), SubscriberFactory()
    tag = TagFactory(name="Gold Member")
    tag_bulk_add(tag=tag, subscriber_ids=[tagged.pk], source="api")
    Event.objects.all().delete()

    # when
    response = admin_client.post(
        reverse("admin:crm_subscriber_changelist"),
        {"action": "add_tag", "tag": "gold member", "_selected_action": [tagged.pk, untagged.pk]},
        follow=True,
    )

    # then
    assert b"Tagged 1 subscriber(s)" in response.content
    assert Tagging.objects.filter(tag=tag).count() == 2
    assert list(Event.objects.values_list("type", "subscriber_id")) == [(TAG_ADD, untagged.pk)]


def test_the_remove_tag_action_and_a_missing_tag_choice(admin_client):
    subscriber = SubscriberFactory()
    tag = TagFactory()
    tag_bulk_add(tag=tag, subscriber_ids=[subscriber.pk], source="api")
    url = reverse("admin:crm_subscriber_changelist")

    no_choice = admin_client.post(
        url, {"action": "remove_tag", "_selected_action": [subscriber.pk]}, follow=True
    )
    removed = admin_client.post(
        url,
        {"action": "remove_tag", "tag": tag.name, "_selected_action": [subscriber.pk]},
        follow=True,
    )

    assert b"Type a tag name beside the action first" in no_choice.content
    assert b"from 1 subscriber(s)" in removed.content
    assert Event.objects.filter(type=TAG_REMOVE).count() == 1


def test_filtering_subscribers_by_tag_and_state(admin_client):
    vip, other = SubscriberFactory(email="vip@example.com"), SubscriberFactory()
    tag = TagFactory()
    tag_bulk_add(tag=tag, subscriber_ids=[vip.pk], source="api")

    response = admin_client.get(
        reverse("admin:crm_subscriber_changelist"), {"tag": tag.pk, "state": "active"}
    )

    assert list(response.context["cl"].queryset) == [vip]
    assert other.email.encode() not in response.content


def test_adding_a_subscriber_in_the_admin_normalizes_and_announces(admin_client):
    response = admin_client.post(
        reverse("admin:crm_subscriber_add"),
        {"email": " New@Example.com ", "first_name": "New", **_empty_inlines()},
    )

    assert response.status_code == 302, response.content[:2000]
    assert Subscriber.objects.get().email == "new@example.com"
    assert Event.objects.filter(type="subscriber_activate").count() == 1


def test_a_duplicate_tag_name_in_the_admin_gets_a_clear_error(admin_client):
    TagFactory(name="Course Complete")

    response = admin_client.post(reverse("admin:tags_tag_add"), {"name": "course complete "})

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Tag.objects.count() == 1


def test_the_tag_list_counts_subscribers(admin_client):
    tag = TagFactory(name="Silver Member")
    tag_bulk_add(
        tag=tag, subscriber_ids=[s.pk for s in SubscriberFactory.create_batch(4)], source="api"
    )

    response = admin_client.get(reverse("admin:tags_tag_changelist"))

    assert response.context["cl"].result_list[0].subscriber_count == 4


def test_the_event_log_is_read_only(admin_client):
    subscriber = SubscriberFactory()
    tag_bulk_add(tag=TagFactory(), subscriber_ids=[subscriber.pk], source="api")
    event = Event.objects.get()

    assert admin_client.get(reverse("admin:crm_event_add")).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:crm_event_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert Event.objects.filter(pk=event.pk).exists()
    assert not SubscriberFieldValue.objects.exists()


def _empty_inlines() -> dict:
    return {
        f"{prefix}-{key}": value
        for prefix in ("field_values", "taggings", "runs", "grants")
        for key, value in (
            ("TOTAL_FORMS", "0"),
            ("INITIAL_FORMS", "0"),
            ("MIN_NUM_FORMS", "0"),
            ("MAX_NUM_FORMS", "1000"),
        )
    }


@pytest.mark.parametrize(
    "url_name", ["admin:crm_emailmessage_change", "admin:automations_run_change"]
)
def test_outbox_and_run_pages_are_read_only_and_keep_their_actions(admin_client, url_name):
    # given: an email in the outbox and a run, each with its row page
    from apps.automations.models import Run
    from apps.crm.messaging.outbox import email_transactional_queue
    from apps.crm.models import EmailKind, EmailMessage
    from tests.automations.helpers import add, build, on_tag

    subscriber = SubscriberFactory()
    email_transactional_queue(
        subscriber=subscriber, kind=EmailKind.LOGIN_LINK, subject="Hi", body="Hello"
    )
    flow = build(triggers=on_tag("Go"), steps=[add("Done")])
    run = Run.objects.create(automation=flow, subscriber=subscriber)
    row = EmailMessage.objects.get() if "email" in url_name else run
    url = reverse(url_name, args=[row.pk])

    # when
    page = admin_client.get(url)
    posted = admin_client.post(url, {"status": "sent"})

    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert "<select" not in html and "lease_token" not in html and 'name="_save"' not in html
    assert 'name="action"' in html  # re-queue, exit or retry: as buttons
    assert posted.status_code == 403


def _change(subscriber) -> str:
    return reverse("admin:crm_subscriber_change", args=[subscriber.pk])


def test_adding_a_tag_on_the_subscriber_page_triggers_automations(
    admin_client, django_capture_on_commit_callbacks
):
    # given: a live automation that starts on "Buyer"
    from apps.automations.models import Run
    from tests.automations.helpers import add, build, on_tag

    build(triggers=on_tag("Buyer"), steps=[add("Welcomed")])
    subscriber = SubscriberFactory()

    # when: the creator types the tag on the subscriber page
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:tags_subscriber_tag_add", args=[subscriber.pk]),
            {"name": " buyer "},
            follow=True,
        )

    # then: the tag service's event, the automation started, and the page says so
    assert response.redirect_chain[-1][0] == _change(subscriber)
    assert "Added &#x27;Buyer&#x27;" in response.content.decode()
    event = Event.objects.filter(type=TAG_ADD).order_by("pk").first()
    assert event.payload["source"] == "admin" and event.payload["tag_name"] == "Buyer"
    assert Run.objects.filter(subscriber=subscriber).count() == 1  # the automation started


def test_removing_a_tag_and_a_blank_name_on_the_subscriber_page(admin_client):
    subscriber, tag = SubscriberFactory(), TagFactory(name="Gold")
    tag_bulk_add(tag=tag, subscriber_ids=[subscriber.pk], source="api")

    blank = admin_client.post(
        reverse("admin:tags_subscriber_tag_add", args=[subscriber.pk]), {"name": " "}, follow=True
    )
    removed = admin_client.post(
        reverse("admin:tags_subscriber_tag_remove", args=[subscriber.pk, tag.pk]), follow=True
    )

    assert "Tag: This field is required." in blank.content.decode()
    assert "Removed &#x27;Gold&#x27;." in removed.content.decode()
    assert Event.objects.filter(type=TAG_REMOVE, payload__source="admin").count() == 1
    assert not Tagging.objects.exists()


def test_field_values_are_edited_through_the_service_and_a_hidden_one_is_kept(admin_client):
    # given
    from apps.crm.services import custom_field_mark_sensitive

    subscriber = SubscriberFactory()
    city = custom_field_create(label="City")
    secret = custom_field_mark_sensitive(field=custom_field_create(label="Password"))
    subscriber_fields_set(subscriber=subscriber, values={secret.key: "s3cret"})
    page = admin_client.get(_change(subscriber)).content.decode()

    # when
    admin_client.post(
        reverse("admin:crm_subscriber_fields", args=[subscriber.pk]),
        {f"field:{city.key}": " Oslo ", f"field:{secret.key}": ""},
    )

    # then
    values = dict(
        SubscriberFieldValue.objects.filter(subscriber=subscriber).values_list(
            "field__key", "value"
        )
    )
    assert values == {"city": "Oslo", "password": "s3cret"}
    assert "s3cret" not in page
    assert Event.objects.filter(type="field_value_updated", payload__key="city").count() == 1


def test_the_state_is_set_through_the_service_and_inactive_is_refused(admin_client):
    subscriber = SubscriberFactory()
    url = reverse("admin:crm_subscriber_state", args=[subscriber.pk])

    refused = admin_client.post(url, {"state": "inactive"}, follow=True)
    admin_client.post(url, {"state": "cancelled"})
    subscriber.refresh_from_db()

    assert "cannot be set by hand" in refused.content.decode()
    assert subscriber.state == "cancelled"
    assert Event.objects.filter(type="subscriber_unsubscribe").count() == 1
    admin_client.post(url, {"state": "active"})
    subscriber.refresh_from_db()
    assert subscriber.state == "active" and subscriber.cancelled_at is None


def test_hand_tools_need_the_change_permission(client):
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_subscriber"))
    client.force_login(viewer)
    subscriber = SubscriberFactory()

    page = client.get(_change(subscriber)).content.decode()
    posts = [
        client.post(
            reverse("admin:crm_subscriber_state", args=[subscriber.pk]), {"state": "cancelled"}
        ),
        client.post(reverse("admin:tags_subscriber_tag_add", args=[subscriber.pk]), {"name": "X"}),
    ]

    assert 'id="hand-tools"' not in page
    assert [p.status_code for p in posts] == [403, 403]
    assert not Event.objects.exists()
