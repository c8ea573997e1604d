"""Every v3 route, taken from the URL patterns themselves, fed odd input: malformed JSON, wrong
types, missing fields, odd and unknown ids. Each answer is a documented error, never a 500."""

import json

import pytest

from apps.api import urls
from apps.crm.models import Broadcast, CustomField, Form, Hook, Sequence
from apps.crm.signups import purchase_create
from apps.tags.services import tag_get_or_create
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

ODD = [
    None,
    [],
    {},
    [1, "x"],
    {"a": {"b": 1}},
    12345678901234567890,
    -1,
    "",
    "ünïcødé ✓",
    True,
    1.5,
    "2024-02-30",
    "x" * 5000,
]
PARAMS = [
    "email",
    "first_name",
    "name",
    "fields",
    "tags",
    "label",
    "tag",
    "purchase",
    "subject",
    "content",
    "send_at",
    "published_at",
    "public",
    "event",
    "target_url",
    "page",
    "from",
    "to",
    "updated_from",
    "sort_order",
    "sort_field",
    "subscriber_state",
    "email_address",
    "status",
    "description",
]
PATH_IDS = ["987654", "-1", "abc", "99999999999999999999999", "1.5"]


def _routes():
    for pattern in urls.urlpatterns:
        route = str(pattern.pattern)
        if not route.startswith("v3/") or "<path:" in route:
            continue
        view = pattern.callback.view_class
        for method in ("get", "post", "put", "delete"):
            if hasattr(view, method):
                yield method, route


ROUTES = sorted(set(_routes()))


@pytest.fixture
def existing():
    purchase = purchase_create(data={"transaction_id": "T", "email_address": "p@example.com"})
    hook = Hook.objects.create(
        event_name="subscriber_activate", target_url="https://e.com", secret="whsec_eA=="
    )
    return {
        "tag_id": tag_get_or_create(name="T")[0].pk,
        "subscriber_id": SubscriberFactory().pk,
        "field_id": CustomField.objects.create(label="F", key="f").pk,
        "form_id": Form.objects.create(name="F").pk,
        "sequence_id": Sequence.objects.create(name="S").pk,
        "purchase_id": purchase.pk,
        "broadcast_id": Broadcast.objects.create(subject="B").pk,
        "hook_id": hook.pk,
    }


def _path(route: str, ids: dict) -> str:
    for name, value in ids.items():
        route = route.replace(f"<str:{name}>", str(value))
    return "/" + route


def _send(client, creds, method, path, params=None, raw=None):
    if method in ("get", "delete"):
        query = {"api_secret": creds.api_secret}
        for key, value in (params or {}).items():
            query[key] = value if isinstance(value, str) else json.dumps(value)
        return (
            getattr(client, method)(path, query)
            if method == "get"
            else client.delete(f"{path}?api_secret={creds.api_secret}")
        )
    body = (
        raw if raw is not None else json.dumps({"api_secret": creds.api_secret, **(params or {})})
    )
    return getattr(client, method)(path, body, content_type="application/json")


def _check(response):
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        assert set(response.json()) == {"error", "message"}, response.content[:500]


@pytest.mark.parametrize("method, route", ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
def test_every_route_answers_odd_input_with_a_documented_error(
    client, creds, existing, method, route
):
    path = _path(route, existing)
    if method in ("post", "put"):
        malformed = _send(client, creds, method, path, raw='{"api_secret": ')
        assert malformed.status_code == 400
        _check(malformed)
        _check(_send(client, creds, method, path, {}))  # every field missing
    for value in ODD:
        _check(_send(client, creds, method, path, {name: value for name in PARAMS}))
    if "<str:" in route:
        for odd_id in PATH_IDS:
            response = _send(
                client,
                creds,
                method,
                _path(route, dict.fromkeys(existing, odd_id)),
                {"email": "a@example.com", "label": "x"},
            )
            _check(response)
            assert response.status_code in (404, 422), (odd_id, response.content[:300])


def test_the_route_list_covers_kits_endpoints():
    assert len(ROUTES) >= 36
