"""Done-when 1 of issue 20: a v4 client's walk through the main calls, as Kit documents them."""

import pytest

from apps.crm.models import Hook
from tests.factories import TagFactory

pytestmark = pytest.mark.django_db


def test_a_v4_client_walks_account_tags_fields_subscribers_and_webhooks(v4, client):
    # given: a key, and a few tags already there besides the one the client creates
    for n in range(4):
        TagFactory(name=f"existing {n}")

    # when / then: the account
    answer = v4.get("account")
    assert answer.status_code == 200
    account = answer.json()["account"]
    assert account["name"] and "@" in account["primary_email_address"]
    assert "<" not in account["primary_email_address"]
    assert set(account["timezone"]) == {"name", "friendly_name", "utc_offset"}

    # a tag: 201 when new, 200 with the same tag when the name exists
    created = v4.post("tags", {"name": "Customer"})
    assert created.status_code == 201
    tag = created.json()["tag"]
    assert set(tag) == {"id", "name", "created_at"}
    again = v4.post("tags", {"name": "customer"})
    assert (again.status_code, again.json()["tag"]["id"]) == (200, tag["id"])

    # list tags one per page, following after until has_next_page is false
    seen, after, pages = [], None, 0
    while True:
        page = v4.get("tags", per_page=1, **({"after": after} if after else {})).json()
        assert page["pagination"]["per_page"] == 1
        assert page["pagination"]["has_previous_page"] is (after is not None)
        seen += [t["id"] for t in page["tags"]]
        pages += 1
        if not page["pagination"]["has_next_page"]:
            break
        after = page["pagination"]["end_cursor"]
    assert len(seen) == len(set(seen)) == 5 == pages
    assert tag["id"] in seen

    # a custom field, a subscriber with a value for it, found by email
    field = v4.post("custom_fields", {"label": "Favourite colour"})
    assert field.status_code == 201
    key = field.json()["custom_field"]["key"]
    made = v4.post(
        "subscribers",
        {"email_address": "Ada@Example.com", "first_name": "Ada", "fields": {key: "green"}},
    )
    assert made.status_code == 201
    subscriber = made.json()["subscriber"]
    assert subscriber["fields"] == {key: "green"} and subscriber["state"] == "active"
    found = v4.get("subscribers", email_address="ada@example.com").json()
    assert [s["id"] for s in found["subscribers"]] == [subscriber["id"]]

    # tag by email (201, then 200), list their tags, untag (204)
    tagged = v4.post(f"tags/{tag['id']}/subscribers", {"email_address": "ada@example.com"})
    assert tagged.status_code == 201 and tagged.json()["subscriber"]["tagged_at"]
    assert (
        v4.post(f"tags/{tag['id']}/subscribers", {"email_address": "ada@example.com"}).status_code
        == 200
    )
    tags = v4.get(f"subscribers/{subscriber['id']}/tags").json()
    assert [t["id"] for t in tags["tags"]] == [tag["id"]]
    assert v4.delete(f"tags/{tag['id']}/subscribers/{subscriber['id']}").status_code == 204
    assert v4.get(f"subscribers/{subscriber['id']}/tags").json()["tags"] == []

    # update a field
    updated = v4.put(f"subscribers/{subscriber['id']}", {"fields": {key: "blue"}})
    assert updated.status_code == 200 and updated.json()["subscriber"]["fields"] == {key: "blue"}

    # create and delete a webhook with a tag filter (Kit drops the "subscriber." prefix)
    hook = v4.post(
        "webhooks",
        {
            "target_url": "https://hooks.example.com/kit",
            "event": {"name": "subscriber.tag_add", "tag_id": tag["id"]},
        },
    )
    assert hook.status_code == 201
    webhook = hook.json()["webhook"]
    assert webhook["event"] == {"name": "tag_add", "tag_id": tag["id"]}
    assert [w["id"] for w in v4.get("webhooks").json()["webhooks"]] == [webhook["id"]]
    assert v4.delete(f"webhooks/{webhook['id']}").status_code == 204
    assert not Hook.objects.exists()

    # a wrong key is a 401 and an unknown subscriber a 404, both as {"errors": [...]}
    wrong = type(v4)(key="kit_" + "0" * 40).get("account")
    assert wrong.status_code == 401 and isinstance(wrong.json()["errors"][0], str)
    missing = v4.get("subscribers/999999")
    assert missing.status_code == 404 and missing.json()["errors"]


def test_only_the_header_authenticates(client, v4key, creds):
    # given: the same v4 key in the query string and in a body, and the v3 secret
    # when
    by_query = client.get("/v4/account", {"api_key": v4key})
    by_body = client.post(
        "/v4/tags", {"name": "x", "api_key": v4key}, content_type="application/json"
    )
    by_v3 = client.get("/v4/account", HTTP_X_KIT_API_KEY=creds.api_secret)
    by_header = client.get("/v4/account", HTTP_X_KIT_API_KEY=v4key)
    # then
    assert [r.status_code for r in (by_query, by_body, by_v3)] == [401, 401, 401]
    assert all(r.json()["errors"] for r in (by_query, by_body, by_v3))
    assert by_header.status_code == 200
