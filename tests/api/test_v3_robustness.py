"""Every v3 route: malformed JSON, a wrong type, a missing field, an unknown id. Each gives a
documented error body and never a 500."""

import json

import pytest

from apps.crm.models import Broadcast, CustomField, Form, Sequence
from apps.tags.services import tag_get_or_create
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

# method, path ({id} = an existing object), a body with a wrong type, a body missing a field
ROUTES = [
    ("post", "tags", {"tag": 5}, {}),
    ("post", "tags/{tag}/subscribe", {"email": ["x"]}, {}),
    ("post", "tags/{tag}/unsubscribe", {"email": 5}, {}),
    ("get", "tags/{tag}/subscriptions", {"page": "x"}, None),
    ("get", "subscribers", {"page": "x"}, None),
    ("get", "subscribers/{subscriber}", None, None),
    ("put", "subscribers/{subscriber}", {"fields": [1]}, None),
    ("put", "unsubscribe", {"email": 5}, {}),
    ("get", "subscribers/{subscriber}/tags", None, None),
    ("delete", "subscribers/{subscriber}/tags/{tag}", None, None),
    ("post", "custom_fields", {"label": 5}, {}),
    ("put", "custom_fields/{field}", {"label": 5}, {}),
    ("post", "forms/{form}/subscribe", {"fields": "x"}, {}),
    ("get", "forms/{form}/subscriptions", {"subscriber_state": 5}, None),
    ("post", "sequences/{sequence}/subscribe", {"tags": "x"}, {}),
    ("get", "sequences/{sequence}/subscriptions", {"sort_order": 5}, None),
    ("post", "purchases", {"purchase": 5}, {}),
    ("get", "purchases/{purchase}", None, None),
    ("post", "broadcasts", {"subject": "x", "public": [1], "send_at": 5}, {}),
    ("put", "broadcasts/{broadcast}", {"send_at": "x"}, None),
    ("get", "broadcasts/{broadcast}/stats", None, None),
    ("post", "automations/hooks", {"event": 5}, {}),
]


@pytest.fixture
def ids():
    from apps.crm.signups import purchase_create

    purchase = purchase_create(data={"transaction_id": "T", "email_address": "p@example.com"})
    return {
        "tag": tag_get_or_create(name="T")[0].pk,
        "subscriber": SubscriberFactory().pk,
        "field": CustomField.objects.create(label="F", key="f").pk,
        "form": Form.objects.create(name="F").pk,
        "sequence": Sequence.objects.create(name="S").pk,
        "purchase": purchase.pk,
        "broadcast": Broadcast.objects.create(subject="B").pk,
    }


def _call(client, creds, method, path, body=None, raw=None):
    url = f"/v3/{path}"
    if method == "get":
        return client.get(url, {"api_secret": creds.api_secret, **(body or {})})
    if method == "delete":
        return client.delete(f"{url}?api_secret={creds.api_secret}")
    data = raw if raw is not None else json.dumps({"api_secret": creds.api_secret, **(body or {})})
    return getattr(client, method)(url, data, content_type="application/json")


def _documented(response) -> bool:
    body = response.json() if response.content else {}
    return response.status_code < 500 and (
        response.status_code < 400 or set(body) == {"error", "message"}
    )


@pytest.mark.parametrize(
    "method, path, wrong, missing", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES]
)
def test_each_route_answers_bad_input_with_a_documented_error(
    client, creds, ids, method, path, wrong, missing
):
    real = path.format(**ids)
    if method not in ("get", "delete"):
        malformed = _call(
            client, creds, method, real, raw=f'{{"api_secret": "{creds.api_secret}", '
        )
        assert malformed.status_code == 400, malformed.content
        assert _documented(malformed)
    if wrong is not None:
        response = _call(client, creds, method, real, wrong)
        assert 400 <= response.status_code < 500, response.content
        assert _documented(response)
    if missing is not None:
        response = _call(client, creds, method, real, missing)
        assert 400 <= response.status_code < 500, response.content
        assert _documented(response)
    if "{" in path:
        unknown = path.format(**{k: 987654 for k in ids})
        response = _call(client, creds, method, unknown, {"email": "a@example.com", "label": "x"})
        assert response.status_code == 404, response.content
        assert _documented(response)
