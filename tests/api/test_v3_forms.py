"""Kit v3 forms (reference/kit.md 1.4)."""

import pytest

from apps.crm.models import (
    Form,
    FormSubscription,
    Subscriber,
)
from apps.tags.services import tag_get_or_create

pytestmark = pytest.mark.django_db


def test_forms_list_subscribe_and_subscriptions(v3, client):
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
        "archived",
        "uid",
    } == set(listed[0])
    # embed_js is a script that draws the form on another page
    script = client.get(listed[0]["embed_js"])
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert form.name in script.content.decode() and listed[0]["uid"]
    assert (subscribed["subscribable_type"], subscribed["state"]) == ("form", "active")
    assert page["total_subscriptions"] == 1
    from apps.crm.dispatch import events_dispatch

    events_dispatch()
    assert Subscriber.objects.get().taggings.filter(tag=tag).exists()


def test_double_opt_in_answers_inactive_and_holds_the_tags(v3):
    form = Form.objects.create(name="Confirmed", double_opt_in=True)
    tag = tag_get_or_create(name="Later")[0]

    sub = (
        v3().post(f"forms/{form.pk}/subscribe", {"email": "b@example.com", "tags": [tag.pk]}).json()
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
