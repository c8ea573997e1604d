import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.crm.models import (
    Broadcast,
    Form,
    FormSubscription,
    Hook,
    Purchase,
    Sequence,
    SequenceSubscription,
    Subscriber,
)
from apps.tags.services import tag_get_or_create
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


# Forms ------------------------------------------------------------------------------------


def test_forms_list_subscribe_and_subscriptions(v3):
    form = Form.objects.create(name="Waitlist")
    tag = tag_get_or_create(name="Early")[0]

    listed = v3(secret=False).get("forms").json()["forms"]
    subscribed = (
        v3(secret=False)
        .post(
            f"forms/{form.pk}/subscribe",
            {"email": "a@example.com", "first_name": "Ada", "tags": [tag.pk]},
        )
        .json()["subscription"]
    )
    page = v3().get(f"forms/{form.pk}/subscriptions").json()

    assert {
        "id",
        "name",
        "created_at",
        "type",
        "url",
        "embed_js",
        "embed_url",
        "title",
        "description",
        "sign_up_button_text",
        "success_message",
    } == set(listed[0])
    assert (subscribed["subscribable_type"], subscribed["state"]) == ("form", "active")
    assert page["total_subscriptions"] == 1
    from apps.crm.dispatch import events_dispatch

    events_dispatch()
    assert Subscriber.objects.get().taggings.filter(tag=tag).exists()


def test_double_opt_in_answers_inactive_and_holds_the_tags(v3):
    form = Form.objects.create(name="Confirmed", double_opt_in=True)
    tag = tag_get_or_create(name="Later")[0]

    sub = (
        v3(secret=False)
        .post(f"forms/{form.pk}/subscribe", {"email": "b@example.com", "tags": [tag.pk]})
        .json()
    )
    from apps.crm.dispatch import events_dispatch

    events_dispatch()
    assert sub["subscription"]["state"] == "inactive"
    assert sub["subscription"]["subscriber"]["state"] == "inactive"
    assert not Subscriber.objects.get().taggings.exists()
    assert FormSubscription.objects.get().tag_ids == [tag.pk]


def test_unknown_form_is_a_404(v3):
    response = v3(secret=False).post("forms/999/subscribe", {"email": "a@example.com"})
    assert response.status_code == 404


# Sequences --------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["sequences", "courses"])
def test_sequences_answer_under_both_names_with_the_courses_key(v3, prefix):
    sequence = Sequence.objects.create(name="Welcome")

    listed = v3(secret=False).get(prefix).json()
    sub = (
        v3(secret=False)
        .post(f"{prefix}/{sequence.pk}/subscribe", {"email": "c@example.com"})
        .json()["subscription"]
    )
    page = v3().get(f"{prefix}/{sequence.pk}/subscriptions").json()
    missing = v3(secret=False).post(f"{prefix}/999/subscribe", {"email": "c@example.com"})

    assert list(listed) == ["courses"]
    assert set(listed["courses"][0]) == {"id", "name", "hold", "repeat", "created_at"}
    assert sub["subscribable_type"] == "course"
    assert page["total_subscriptions"] == 1
    assert missing.status_code == 404
    assert missing.json() == {"error": "Course not found", "message": ""}
    assert SequenceSubscription.objects.count() == 1


# Purchases --------------------------------------------------------------------------------

PURCHASE = {
    "transaction_id": "T-100",
    "email_address": "buyer@example.com",
    "currency": "usd",
    "total": "97.00",
    "status": "paid",
    "products": [
        {"pid": 1, "lid": 5, "name": "Course", "sku": "C", "unit_price": 97, "quantity": 1}
    ],
}


def test_create_list_and_get_purchases(v3):
    created = v3().post("purchases", {"purchase": PURCHASE})
    listed = v3().get("purchases").json()
    got = v3().get(f"purchases/{created.json()['id']}")

    assert created.status_code == 201
    assert created.json()["currency"] == "USD"
    assert listed["total_purchases"] == 1 and listed["purchases"][0]["transaction_id"] == "T-100"
    assert got.json()["total"] == 97.0


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "purchase can't be blank"),
        ({"purchase": {"email_address": "x@example.com"}}, "transaction_id can't be blank"),
        ({"purchase": {**PURCHASE, "products": [{"pid": 1}]}}, "products[0].lid can't be blank"),
        ({"purchase": {**PURCHASE, "total": "lots"}}, "total must be a number"),
    ],
)
def test_purchase_errors_are_kits_400(v3, body, message):
    response = v3().post("purchases", body)
    assert response.status_code == 400
    assert response.json()["error"] == "Your request is missing parameters"
    assert message in response.json()["message"]
    assert not Purchase.objects.exists()


# Broadcasts -------------------------------------------------------------------------------


def test_broadcast_create_get_update_stats_delete(v3):
    created = v3().post("broadcasts", {"subject": "Hello", "content": "Hi {{ subscriber.id }}"})
    bid = created.json()["broadcast"]["id"]

    listed = v3().get("broadcasts").json()["broadcasts"]
    updated = v3().put(f"broadcasts/{bid}", {"send_at": "2030-01-01T10:00:00Z"})
    stats = v3().get(f"broadcasts/{bid}/stats").json()
    deleted = v3().delete(f"broadcasts/{bid}")

    assert created.status_code == 201
    assert listed == [{"id": bid, "created_at": listed[0]["created_at"], "subject": "Hello"}]
    assert updated.json()["broadcast"]["send_at"] == "2030-01-01T10:00:00Z"
    assert set(stats["broadcast"]["stats"]) == {
        "recipients",
        "open_rate",
        "click_rate",
        "unsubscribes",
        "total_clicks",
        "show_total_clicks",
        "status",
        "progress",
    }
    assert deleted.status_code == 204
    assert not Broadcast.objects.exists()


def test_broadcast_errors(v3):
    assert v3().post("broadcasts", {"content": "x"}).status_code == 422
    assert v3().post("broadcasts", {"subject": "x", "send_at": "soon"}).status_code == 422
    assert v3().get("broadcasts/999").status_code == 404


# Hooks ------------------------------------------------------------------------------------


def test_create_a_hook_drops_the_prefix_and_echoes_the_filter(v3):
    tag = tag_get_or_create(name="T")[0]
    rule = (
        v3()
        .post(
            "automations/hooks",
            {
                "target_url": "https://example.com/hook",
                "event": {"name": "subscriber.tag_add", "tag_id": tag.pk},
            },
        )
        .json()["rule"]
    )
    course = (
        v3()
        .post(
            "automations/hooks",
            {
                "target_url": "https://example.com/hook",
                "event": {"name": "subscriber.course_complete", "course_id": 7},
            },
        )
        .json()["rule"]
    )
    deleted = v3().delete(f"automations/hooks/{rule['id']}")

    assert rule["event"] == {"name": "tag_add", "tag_id": tag.pk}
    assert set(rule) == {"id", "account_id", "event", "target_url"}
    assert course["event"] == {"name": "course_complete", "sequence_id": 7}
    assert deleted.json() == {"success": True}
    assert Hook.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"target_url": "https://example.com"},
        {"target_url": "https://example.com", "event": {"name": "x"}},
        {"target_url": "https://example.com", "event": {"name": "subscriber.tag_add"}},
        {"target_url": "notaurl", "event": {"name": "subscriber.subscriber_activate"}},
    ],
)
def test_bad_hooks_are_422(v3, body):
    response = v3().post("automations/hooks", body)
    assert response.status_code == 422
    assert not Hook.objects.exists()


# Query counts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, make",
    [
        (
            "purchases",
            lambda i: Purchase.objects.create(
                transaction_id=f"T{i}",
                subscriber=SubscriberFactory(),
                email_address=f"p{i}@x.com",
                transaction_time="2026-01-01T00:00:00Z",
            ),
        ),
        ("broadcasts", lambda i: Broadcast.objects.create(subject=f"B{i}")),
        ("forms", lambda i: Form.objects.create(name=f"F{i}")),
        ("sequences", lambda i: Sequence.objects.create(name=f"S{i}")),
    ],
)
def test_list_endpoints_do_not_grow_with_rows(v3, path, make):
    def count(n, start):
        for i in range(start, start + n):
            make(i)
        v3().get(path)
        with CaptureQueriesContext(connection) as ctx:
            assert v3().get(path).status_code == 200
        return len(ctx.captured_queries)

    assert count(2, 0) == count(25, 100)
