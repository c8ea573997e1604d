"""Forms embedded on another site: the signed token, CORS, the honeypot, the per-address
limit, and tags picked by name in the admin."""

from datetime import UTC, datetime

import pytest
import time_machine

from apps.crm.dispatch import events_dispatch
from apps.crm.embed import FORM_SPAM_REFUSED, form_token
from apps.crm.models import Event, Form, Subscriber
from tests.factories import TagFactory

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json", "HTTP_ORIGIN": "https://creator.example"}


@pytest.fixture
def form():
    gold = TagFactory(name="Gold")
    return Form.objects.create(name="Newsletter", kind="embed", tag_ids=[gold.pk])


def _post(client, form, **fields):
    data = {"email": "ann@example.com", "token": form_token(form), **fields}
    return client.post(f"/forms/{form.pk}/subscribe/", data, **JSON)


def test_an_embedded_post_subscribes_with_the_forms_tags_from_any_origin(
    client, form, django_assert_max_num_queries
):
    # when a page on another site posts the form (a fixed number of queries: the form, the
    # subscriber and its events, the subscription, and their savepoints)
    with django_assert_max_num_queries(18):
        answer = _post(client, form, first_name="Ann")
    events_dispatch()

    # then the person is subscribed with the form's tags, and the browser may read the answer
    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "message": form.success_message}
    assert answer["Access-Control-Allow-Origin"] == "*"
    person = Subscriber.objects.get(email="ann@example.com")
    assert list(person.taggings.values_list("tag__name", flat=True)) == ["Gold"]


def test_the_preflight_is_answered_for_any_origin(client, form):
    answer = client.options(f"/forms/{form.pk}/subscribe/", **JSON)
    assert answer.status_code == 204
    assert answer["Access-Control-Allow-Methods"] == "POST, OPTIONS"


def test_a_post_without_the_forms_signed_token_is_refused(client, form):
    # given a token minted for another form
    other = Form.objects.create(name="Other")

    # when posts carry no token, or the other form's
    missing = client.post(f"/forms/{form.pk}/subscribe/", {"email": "a@example.com"}, **JSON)
    foreign = _post(client, form, token=form_token(other))

    # then both are refused with a message, and nobody is subscribed
    assert (missing.status_code, foreign.status_code) == (403, 403)
    assert "paste it again" in missing.json()["message"]
    assert not Subscriber.objects.exists()


def test_a_bot_filling_the_honeypot_is_told_yes_but_refused_and_recorded(client, form):
    # when a bot fills the hidden field
    answer = _post(client, form, website="https://spam.example")
    events_dispatch()

    # then it reads a success, nobody is subscribed, and the refusal is recorded
    assert answer.status_code == 200 and answer.json()["ok"] is True
    assert not Subscriber.objects.exists()
    refused = Event.objects.get(type=FORM_SPAM_REFUSED)
    assert refused.payload["form_id"] == form.pk
    assert refused.dispatched_at is not None and refused.failed_at is None


@time_machine.travel(datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC), tick=True)
def test_the_21st_post_from_one_address_in_a_minute_gets_429_with_retry_after(client, form):
    # given 20 posts from one address (from the start of a minute: one window of the limit)
    answers = [_post(client, form, email=f"p{i}@example.com").status_code for i in range(20)]

    # when it posts a 21st
    over = _post(client, form, email="p21@example.com")

    # then the first 20 passed, the 21st is refused with when to come back
    assert answers == [200] * 20
    assert over.status_code == 429
    assert over["Retry-After"] == "60"
    assert over["Access-Control-Allow-Origin"] == "*"


def test_a_plain_post_without_script_lands_on_the_thank_you_page(client, form):
    answer = client.post(
        f"/forms/{form.pk}/subscribe/", {"email": "bo@example.com", "token": form_token(form)}
    )
    assert answer.status_code == 200
    assert 'id="form-done"' in answer.content.decode()


def test_the_admin_takes_tags_by_name_and_shows_the_snippet(admin_client, form, settings):
    # given a second tag
    settings.SITE_URL = "https://members.example"
    silver = TagFactory(name="Silver")
    url = f"/admin/crm/form/{form.pk}/change/"

    # when the creator opens the form and picks Silver too
    page = admin_client.get(url).content.decode()
    admin_client.post(
        url,
        {
            "name": "Newsletter",
            "kind": "embed",
            "sign_up_button_text": "Join",
            "success_message": "Thanks",
            "tags": "Gold, Silver",
        },
    )

    # then the page offered the tags by name and the snippet, and both tags are stored
    assert 'value="Gold"' in page
    assert f"https://members.example/forms/{form.pk}/subscribe/" in page
    assert f"/forms/{form.pk}/embed.js" in page
    form.refresh_from_db()
    assert form.tag_ids == sorted([form.tag_ids[0], silver.pk])
