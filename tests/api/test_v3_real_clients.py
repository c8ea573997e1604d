"""Issue 20's v3 gaps, each replaying the request a real client sends (Airbyte's ConvertKit
source, n8n's ConvertKit nodes, a PyPI v3 client), plus Retry-After on 429."""

import json

import pytest
import time_machine

from apps.crm.models import Broadcast, CustomField, EmailTemplate, Hook
from tests.factories import SubscriberFactory, TagFactory

pytestmark = pytest.mark.django_db


def _json(client, method, path, body):
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


def test_airbyte_tags_stream_pages_until_an_empty_page_and_stops(client, creds):
    # given: more tags than one page (Airbyte looped for ever once an account had 50)
    made = {TagFactory().pk for _ in range(60)}
    # when: Airbyte's tags stream asks page 1, 2, … until a page comes back empty
    seen, page = [], 1
    while page < 10:
        answer = client.get("/v3/tags", {"api_secret": creds.api_secret, "page": page})
        assert answer.status_code == 200
        tags = answer.json()["tags"]
        if not tags:
            break
        seen += [t["id"] for t in tags]
        page += 1
    # then: each tag once, and it stopped on page 3
    assert page == 3 and sorted(seen) == sorted(made)
    # a limit is honoured, and without page the whole list comes back as Kit gives it
    limited = client.get("/v3/tags", {"api_secret": creds.api_secret, "page": 2, "limit": 25})
    assert len(limited.json()["tags"]) == 25
    assert len(client.get("/v3/tags", {"api_secret": creds.api_secret}).json()["tags"]) == 60


def test_airbyte_broadcasts_stream_pages_too(client, creds):
    # given
    Broadcast.objects.bulk_create([Broadcast(subject=f"B{n}") for n in range(55)])
    # when
    pages = [
        client.get("/v3/broadcasts", {"api_secret": creds.api_secret, "page": n}).json()
        for n in (1, 2, 3)
    ]
    # then
    assert [len(p["broadcasts"]) for p in pages] == [50, 5, 0]


def test_n8n_delete_tag_from_subscriber_with_a_stray_character_is_a_404(client, creds):
    # given: n8n's node builds the path from an expression that left a ">" behind
    tag, person = TagFactory(), SubscriberFactory()
    # when
    answer = _json(
        client,
        "post",
        f"/v3/tags/{tag.pk}>/unsubscribe",
        {"api_secret": creds.api_secret, "email": person.email},
    )
    # then: Kit's 404, not a 422 about the id's form
    assert answer.status_code == 404
    assert answer.json() == {
        "error": "Not Found",
        "message": "The entity you were trying to find doesn't exist",
    }


def test_a_boolean_public_and_an_empty_draft_are_accepted(client, creds):
    # when: a JSON client sends public as a boolean, and a draft with no attributes at all
    public = _json(
        client,
        "post",
        "/v3/broadcasts",
        {"api_secret": creds.api_secret, "subject": "Hello", "public": True},
    )
    empty = _json(client, "post", "/v3/broadcasts", {"api_secret": creds.api_secret})
    # then
    assert public.status_code == 201 and public.json()["broadcast"]["public"] is True
    assert empty.status_code == 201
    assert Broadcast.objects.get(pk=empty.json()["broadcast"]["id"]).status == "draft"


def test_broadcast_template_and_thumbnail_are_kept(client, creds):
    # given
    EmailTemplate.objects.create(name="Text only")
    # when
    made = _json(
        client,
        "post",
        "/v3/broadcasts",
        {
            "api_secret": creds.api_secret,
            "subject": "Hi",
            "email_layout_template": "Text only",
            "thumbnail_url": "https://example.com/t.png",
            "thumbnail_alt": "A picture",
        },
    ).json()["broadcast"]
    # then: stored, and answered back
    assert (made["email_layout_template"], made["thumbnail_url"], made["thumbnail_alt"]) == (
        "Text only",
        "https://example.com/t.png",
        "A picture",
    )
    unknown = _json(
        client,
        "post",
        "/v3/broadcasts",
        {"api_secret": creds.api_secret, "email_layout_template": "Nope"},
    )
    assert unknown.status_code == 422 and "Nope" in unknown.json()["message"]


@pytest.mark.parametrize(
    "target",
    [
        "http://n8n.invalid:5678/webhook/3f1c",  # does not resolve (yet)
        "http://192.168.1.20:5678/webhook/3f1c",  # a self-hosted n8n on the LAN
    ],
)
def test_a_hook_target_is_not_resolved_when_it_is_created(client, creds, target):
    # when: n8n's ConvertKit trigger registers its webhook
    answer = _json(
        client,
        "post",
        "/v3/automations/hooks",
        {
            "api_secret": creds.api_secret,
            "target_url": target,
            "event": {"name": "subscriber.subscriber_activate"},
        },
    )
    # then: accepted (each delivery checks the address when it is made)
    assert answer.status_code == 200
    assert Hook.objects.get().target_url == target


def test_the_account_gives_a_bare_primary_email_address(client, creds, settings):
    # given
    settings.DEFAULT_FROM_EMAIL = "Tessera <news@example.com>"
    # when
    account = client.get("/v3/account", {"api_secret": creds.api_secret}).json()
    # then
    assert account["primary_email_address"] == "news@example.com"


def test_more_than_125_custom_fields_in_one_update_is_a_400(client, creds):
    # given
    person = SubscriberFactory()
    CustomField.objects.bulk_create([CustomField(label=f"F{n}", key=f"f{n}") for n in range(126)])
    # when
    answer = _json(
        client,
        "put",
        f"/v3/subscribers/{person.pk}",
        {"api_secret": creds.api_secret, "fields": {f"f{n}": "x" for n in range(126)}},
    )
    ok = _json(
        client,
        "put",
        f"/v3/subscribers/{person.pk}",
        {"api_secret": creds.api_secret, "fields": {f"f{n}": "x" for n in range(125)}},
    )
    # then
    assert answer.status_code == 400 and "125" in answer.json()["message"]
    assert ok.status_code == 202


def test_a_429_says_when_to_retry_on_v3_and_v4(client, creds, v4key, settings):
    # given: a small budget, at a known second of the minute
    settings.KIT_API_RATE_LIMIT = 2
    with time_machine.travel("2026-01-01 12:00:20Z", tick=False):
        # when
        v3 = [client.get("/v3/tags", {"api_secret": creds.api_secret}) for _ in range(3)]
        v4 = [client.get("/v4/tags", HTTP_X_KIT_API_KEY=v4key) for _ in range(3)]
    # then: the third is refused, saying to wait until the window has moved on
    assert [r.status_code for r in v3] == [200, 200, 429]
    assert [r.status_code for r in v4] == [200, 200, 429]
    for refused in (v3[-1], v4[-1]):
        assert 1 <= int(refused["Retry-After"]) <= 60
    assert v4[-1].json() == {"errors": ["Retry later"]}


def test_a_burst_across_a_minute_boundary_gets_no_more_than_the_limit(client, creds, settings):
    # given: the limit spent in the last ten seconds of a minute
    settings.KIT_API_RATE_LIMIT = 10
    params = {"api_secret": creds.api_secret}

    def call_at(when):
        with time_machine.travel(when, tick=False):
            return client.get("/v3/tags", params).status_code

    spent = [call_at(f"2026-01-01 12:00:{50 + n}Z") for n in range(10)]
    # when: the burst carries on into the next minute (the two-bucket estimate let these in)
    carried = [call_at(f"2026-01-01 12:01:{n:02d}Z") for n in range(0, 40, 4)]
    # then: nothing more until a minute after the first of the burst
    assert spent == [200] * 10 and carried == [429] * 10
    assert call_at("2026-01-01 12:01:50.5Z") == 200
    assert call_at("2026-01-01 12:01:50.6Z") == 429


def test_a_credential_budget_lets_calls_through_when_the_cache_is_down(
    client, creds, settings, monkeypatch, caplog
):
    # given: a budget of one, and a cache that cannot be reached
    from apps.core import throttle

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    settings.KIT_API_RATE_LIMIT = 1
    monkeypatch.setattr(throttle, "_redis_backend", down)
    # when
    codes = [client.get("/v3/tags", {"api_secret": creds.api_secret}).status_code for _ in "ab"]
    # then: a limit is a guard; the CRM's calls are not refused because Redis is down
    assert codes == [200, 200]
    assert "rate-limit cache unavailable" in caplog.text
