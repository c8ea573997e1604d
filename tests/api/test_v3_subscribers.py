import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.crm.models import Subscriber, SubscriberState
from apps.crm.services import custom_field_create, subscriber_fields_set
from apps.tags.services import subscriber_tag_add, tag_get_or_create
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db
SHAPE = {"id", "first_name", "email_address", "state", "created_at", "fields"}


def test_list_is_active_subscribers_paged_by_50_and_searchable_by_email(v3):
    SubscriberFactory.create_batch(52)
    SubscriberFactory(email="gone@example.com", state=SubscriberState.CANCELLED)

    page = v3().get("subscribers").json()
    found = v3().get("subscribers", email_address="Gone@Example.com", status="all").json()
    cancelled = v3().get("subscribers", sort_field="cancelled_at").json()

    assert (page["total_subscribers"], page["total_pages"], len(page["subscribers"])) == (52, 2, 50)
    assert set(page["subscribers"][0]) == SHAPE
    assert [s["email_address"] for s in found["subscribers"]] == ["gone@example.com"]
    assert cancelled["total_subscribers"] == 1


def test_list_does_not_grow_with_rows(v3):
    custom_field_create(label="City")

    def count(n):
        for person in SubscriberFactory.create_batch(n):
            subscriber_fields_set(subscriber=person, values={"city": "Oslo"})
        v3().get("subscribers")
        with CaptureQueriesContext(connection) as ctx:
            v3().get("subscribers")
        return len(ctx.captured_queries)

    assert count(2) == count(30)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"from": "yesterday"}, "from must be a date"),
        ({"sort_order": "up"}, "sort_order"),
        ({"page": "two"}, "page must be a whole number"),
        ({"sort_field": "name"}, "sort_field"),
    ],
)
def test_list_rejects_bad_filters(v3, params, message):
    response = v3().get("subscribers", **params)
    assert response.status_code == 422
    assert message in response.json()["message"]


def test_get_update_and_the_200_or_202_rule(v3):
    for i in range(12):
        custom_field_create(label=f"F{i}")
    person = SubscriberFactory()

    got = v3().get(f"subscribers/{person.pk}")
    few = v3().put(f"subscribers/{person.pk}", {"first_name": "Arya", "fields": {"f0": "x"}})
    many = v3().put(f"subscribers/{person.pk}", {"fields": {f"f{i}": "y" for i in range(12)}})

    assert set(got.json()["subscriber"]) == SHAPE
    assert few.status_code == 200 and few.json()["subscriber"]["first_name"] == "Arya"
    assert many.status_code == 202 and many.json()["subscriber"]["fields"]["f11"] == "y"


@pytest.mark.parametrize(
    "body, status",
    [({"fields": {"nope": 1}}, 422), ({"email_address": "bad"}, 422), ({"fields": "x"}, 422)],
)
def test_update_errors(v3, body, status):
    person = SubscriberFactory()
    response = v3().put(f"subscribers/{person.pk}", body)
    assert response.status_code == status
    assert set(response.json()) == {"error", "message"}


def test_unknown_subscriber_is_kits_404(v3):
    for response in (
        v3().get("subscribers/999999"),
        v3().put("subscribers/999999", {}),
        v3(secret=False).get("subscribers/999999/tags"),
    ):
        assert response.status_code == 404
        assert response.json() == {
            "error": "Not Found",
            "message": "The entity you were trying to find doesn't exist",
        }


def test_unsubscribe_cancels_and_returns_the_subscriber(v3):
    person = SubscriberFactory(email="arya@example.com")
    response = v3().put("unsubscribe", {"email": "arya@example.com"})
    assert response.json()["subscriber"]["state"] == "cancelled"
    assert Subscriber.objects.get(pk=person.pk).state == SubscriberState.CANCELLED


def test_a_subscribers_tags_and_removing_one_by_id(v3):
    person = SubscriberFactory()
    tag = tag_get_or_create(name="Stark")[0]
    subscriber_tag_add(subscriber=person, tag=tag, source="test")

    listed = v3(secret=False).get(f"subscribers/{person.pk}/tags").json()
    removed = v3().delete(f"subscribers/{person.pk}/tags/{tag.pk}")

    assert [t["name"] for t in listed["tags"]] == ["Stark"]
    assert removed.json()["name"] == "Stark"
    assert not person.taggings.exists()
