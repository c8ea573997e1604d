"""An integration written against Kit's v3 API, pointed at Tessera over real HTTP."""

import json
import urllib.error
import urllib.request

import pytest

from apps.crm.models import Form, Hook, Subscriber, SubscriberState
from apps.crm.services import custom_field_create
from apps.tags.models import Tag


class KitClient:
    """The calls a Kit client library makes (JSON bodies, the secret alongside)."""

    def __init__(self, base: str, secret: str):
        self.base, self.secret = base, secret

    def call(self, method: str, path: str, body: dict | None = None, query: str = ""):
        # As client libraries do: the secret in the query string for GET and DELETE, in the
        # JSON body otherwise (so each way of reading credentials is exercised on its own).
        data = json.dumps({"api_secret": self.secret, **(body or {})}).encode()
        in_query = method in ("GET", "DELETE")
        url = f"{self.base}/v3/{path}?{f'api_secret={self.secret}' if in_query else ''}{query}"
        request = urllib.request.Request(
            url,
            data=None if method in ("GET", "DELETE") else data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


@pytest.mark.django_db(transaction=True)
def test_a_kit_integration_works_by_changing_its_base_url(live_server, creds):
    kit = KitClient(live_server.url, creds.api_secret)
    custom_field_create(label="Last name")
    form = Form.objects.create(name="Waitlist")

    # create tags from a list
    status, created = kit.call("POST", "tags", {"tag": [{"name": "Buyer"}, {"name": "VIP"}]})
    assert status == 200 and [t["name"] for t in created] == ["Buyer", "VIP"]
    buyer, vip = created

    # subscribe an email to a form with fields and tags
    status, body = kit.call(
        "POST",
        f"forms/{form.pk}/subscribe",
        {
            "email": "jon@example.com",
            "first_name": "Jon",
            "fields": {"last_name": "Snow"},
            "tags": [buyer["id"]],
        },
    )
    assert status == 200 and body["subscription"]["subscribable_type"] == "form"

    # find the subscriber by email_address, as Kit's SDKs do
    status, listed = kit.call("GET", "subscribers", query="&email_address=jon@example.com")
    (subscriber,) = listed["subscribers"]
    assert subscriber["fields"] == {"last_name": "Snow"}

    # tag and untag by email
    assert kit.call("POST", f"tags/{vip['id']}/subscribe", {"email": "jon@example.com"})[0] == 200
    assert (
        kit.call("POST", f"tags/{vip['id']}/unsubscribe", {"email": "jon@example.com"})[1]["name"]
        == "VIP"
    )

    # update fields
    status, updated = kit.call(
        "PUT", f"subscribers/{subscriber['id']}", {"fields": {"last_name": "Targaryen"}}
    )
    assert status == 200 and updated["subscriber"]["fields"]["last_name"] == "Targaryen"

    # a subscriber's tags
    status, tags = kit.call("GET", f"subscribers/{subscriber['id']}/tags")
    assert [t["name"] for t in tags["tags"]] == ["Buyer"]

    # create and delete a hook
    status, rule = kit.call(
        "POST",
        "automations/hooks",
        {
            "target_url": "https://example.com/kit",
            "event": {"name": "subscriber.tag_add", "tag_id": vip["id"]},
        },
    )
    assert status == 200
    assert kit.call("DELETE", f"automations/hooks/{rule['rule']['id']}")[1] == {"success": True}

    # unsubscribe
    status, gone = kit.call("PUT", "unsubscribe", {"email": "jon@example.com"})
    assert gone["subscriber"]["state"] == "cancelled"

    # and the database agrees
    person = Subscriber.objects.get(email="jon@example.com")
    assert person.state == SubscriberState.CANCELLED
    assert set(person.taggings.values_list("tag__name", flat=True)) == {"Buyer"}
    assert person.field_values.get().value == "Targaryen"
    assert Tag.objects.count() == 2
    assert not Hook.objects.exists()
