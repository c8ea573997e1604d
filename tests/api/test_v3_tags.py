import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.crm.models import Event, Subscriber
from apps.tags.models import Tag, Tagging
from apps.tags.services import tag_get_or_create
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def test_list_tags(v3):
    tag_get_or_create(name="House Stark")
    body = v3(secret=False).get("tags").json()
    assert list(body) == ["tags"]
    assert set(body["tags"][0]) == {"id", "name", "created_at"}


def test_create_one_tag_gives_a_bare_object_and_a_list_gives_a_bare_list(v3):
    one = v3(secret=False).post("tags", {"tag": {"name": "House Stark"}})
    many = v3(secret=False).post("tags", {"tag": [{"name": "A"}, {"name": "B"}]})

    assert one.status_code == 200
    assert set(one.json()) == {
        "account_id",
        "created_at",
        "deleted_at",
        "id",
        "name",
        "state",
        "updated_at",
    }
    assert one.json()["state"] == "available"
    assert [t["name"] for t in many.json()] == ["A", "B"]


@pytest.mark.parametrize(
    "body", [{"tag": {"name": ""}}, {"tag": {"name": "house stark "}}, {"tag": "House"}, {}]
)
def test_a_blank_duplicate_or_malformed_tag_is_a_422(v3, body):
    tag_get_or_create(name="House Stark")
    response = v3(secret=False).post("tags", body)
    assert response.status_code == 422
    assert set(response.json()) == {"error", "message"}
    assert Tag.objects.count() == 1


def test_subscribe_by_email_creates_the_subscriber_with_fields_and_tags(v3):
    from apps.crm.services import custom_field_create

    custom_field_create(label="Last name")
    stark, extra = tag_get_or_create(name="Stark")[0], tag_get_or_create(name="North")[0]

    public = v3(secret=False).post(
        f"tags/{stark.pk}/subscribe",
        {
            "email": "Jon@Example.com",
            "first_name": "Jon",
            "fields": {"last_name": "Snow"},
            "tags": [extra.pk],
        },
    )
    private = v3().post(f"tags/{stark.pk}/subscribe", {"email": "jon@example.com"})

    sub = public.json()["subscription"]
    assert public.status_code == 200
    assert (sub["subscribable_type"], sub["subscribable_id"], sub["state"]) == (
        "tag",
        stark.pk,
        "active",
    )
    person = Subscriber.objects.get()
    # the public key learns only the id (no personal data), the secret sees everything
    assert sub["subscriber"] == {"id": person.pk}
    full = private.json()["subscription"]["subscriber"]
    assert full["email_address"] == "jon@example.com"
    assert full["fields"] == {"last_name": "Snow"}
    assert set(person.taggings.values_list("tag__name", flat=True)) == {"Stark", "North"}


def test_the_public_key_cannot_apply_tags_that_grant_access(v3):
    from tests.offerings.helpers import weekly_course

    course = weekly_course()
    plain = tag_get_or_create(name="Newsletter")[0]

    refused = v3(secret=False).post(
        f"tags/{course.purchase_tag_id}/subscribe", {"email": "a@example.com"}
    )
    refused_extra = v3(secret=False).post(
        f"tags/{plain.pk}/subscribe",
        {"email": "a@example.com", "tags": [course.modules.last().access_tag_id]},
    )
    allowed = v3().post(f"tags/{course.purchase_tag_id}/subscribe", {"email": "a@example.com"})

    assert refused.status_code == refused_extra.status_code == 401
    assert allowed.status_code == 200


@pytest.mark.parametrize(
    "path, body, status, error",
    [
        ("tags/999/subscribe", {"email": "a@example.com"}, 404, "Tag not found"),
        # n8n sends ids with stray characters ("42>"): Kit answers 404, not 422.
        ("tags/abc/subscribe", {"email": "a@example.com"}, 404, "Not Found"),
        ("tags/{id}/subscribe", {}, 422, "Error updating subscriber"),
        ("tags/{id}/subscribe", {"email": "nope"}, 422, "Error updating subscriber"),
        (
            "tags/{id}/subscribe",
            {"email": "a@example.com", "fields": {"shoe": 9}},
            422,
            "Unprocessable Entity",
        ),
        (
            "tags/{id}/subscribe",
            {"email": "a@example.com", "tags": ["x"]},
            422,
            "Unprocessable Entity",
        ),
    ],
)
def test_subscribe_errors(v3, path, body, status, error):
    tag = tag_get_or_create(name="T")[0]
    response = v3(secret=False).post(path.format(id=tag.pk), body)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert not Tagging.objects.exists()


def test_unsubscribe_by_email_returns_the_tag_and_needs_the_secret(v3):
    tag = tag_get_or_create(name="T")[0]
    v3(secret=False).post(f"tags/{tag.pk}/subscribe", {"email": "a@example.com"})

    refused = v3(secret=False).post(f"tags/{tag.pk}/unsubscribe", {"email": "a@example.com"})
    done = v3().post(f"tags/{tag.pk}/unsubscribe", {"email": "a@example.com"})
    unknown = v3().post(f"tags/{tag.pk}/unsubscribe", {"email": "who@example.com"})

    assert refused.status_code == 401
    assert done.json() == {"id": tag.pk, "name": "T", "created_at": done.json()["created_at"]}
    assert unknown.status_code == 404
    assert not Tagging.objects.exists()
    assert Event.objects.filter(type="tag_remove").count() == 1


def test_tag_subscriptions_are_paged_by_50_and_filtered(v3):
    tag = tag_get_or_create(name="T")[0]
    people = SubscriberFactory.create_batch(55)
    Tagging.objects.bulk_create(Tagging(subscriber=p, tag=tag) for p in people)
    people[0].state = "cancelled"
    people[0].save()

    first = v3().get(f"tags/{tag.pk}/subscriptions").json()
    second = v3().get(f"tags/{tag.pk}/subscriptions", page=2).json()
    cancelled = v3().get(f"tags/{tag.pk}/subscriptions", subscriber_state="cancelled").json()

    assert (first["total_subscriptions"], first["page"], first["total_pages"]) == (55, 1, 2)
    assert len(first["subscriptions"]) == 50 and len(second["subscriptions"]) == 5
    assert cancelled["total_subscriptions"] == 1


def test_tag_subscriptions_do_not_grow_with_rows(v3):
    tag = tag_get_or_create(name="T")[0]

    def count(n):
        Tagging.objects.bulk_create(
            Tagging(subscriber=p, tag=tag) for p in SubscriberFactory.create_batch(n)
        )
        v3().get(f"tags/{tag.pk}/subscriptions")
        with CaptureQueriesContext(connection) as ctx:
            v3().get(f"tags/{tag.pk}/subscriptions")
        return len(ctx.captured_queries)

    assert count(3) == count(40)
