"""Kit's credentials, errors and throttle (reference/kit.md 1.1 and 1.2)."""

import pytest
import time_machine
from django.core.management import call_command

pytestmark = pytest.mark.django_db
AUTH = "Authorization Failed"


def test_no_key_bad_key_bad_secret_and_key_on_a_secret_route(client, creds):
    cases = [
        (client.get("/v3/tags"), "API Key not present"),
        (client.get("/v3/tags", {"api_key": "nope"}), "API Key not valid"),
        (client.get("/v3/subscribers", {"api_secret": "nope"}), "API Secret not valid"),
        (
            client.get("/v3/subscribers", {"api_key": creds.api_key}),
            "You do not have sufficient permissions to access this resource",
        ),
    ]
    for response, message in cases:
        assert response.status_code == 401
        assert response.json() == {"error": AUTH, "message": message}


def test_the_secret_works_wherever_the_key_does_and_credentials_come_from_anywhere(client, creds):
    assert client.get("/v3/tags", {"api_secret": creds.api_secret}).status_code == 200
    assert client.get("/v3/tags", {"api_key": creds.api_secret}).status_code == 200
    form = client.post("/v3/tags", {"api_key": creds.api_key, "tag[name]": "From a form"})
    assert form.status_code == 200
    assert form.json()["name"] == "From a form"
    body = client.put(
        "/v3/unsubscribe",
        f'{{"api_secret": "{creds.api_secret}", "email": "nobody@example.com"}}',
        content_type="application/json",
    )
    assert body.status_code == 404


def test_malformed_json_is_a_400_with_a_message(client, creds):
    response = client.post(
        f"/v3/tags?api_key={creds.api_key}", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "Bad Request"


def test_the_throttle_answers_429_past_the_limit_per_key(client, creds, settings):
    settings.KIT_API_RATE_LIMIT = 3
    start = 1_800_000_010  # ten seconds into a window: nothing straddles a boundary
    with time_machine.travel(start, tick=False):
        codes = [client.get("/v3/tags", {"api_key": creds.api_key}).status_code for _ in range(5)]
        limited = client.get("/v3/tags", {"api_key": creds.api_key}).json()
        # the secret has a budget of its own, whichever parameter carries it
        secret = [
            client.get("/v3/tags", {"api_secret": creds.api_secret}).status_code,
            client.get("/v3/tags", {"api_key": creds.api_secret}).status_code,
            client.get("/v3/tags", {"api_secret": creds.api_secret}).status_code,
            client.get("/v3/tags", {"api_key": creds.api_secret}).status_code,
        ]
    with time_machine.travel(start + 120, tick=False):
        later = client.get("/v3/tags", {"api_key": creds.api_key}).status_code

    assert codes == [200, 200, 200, 429, 429]
    assert limited == {"error": "Too Many Requests", "message": "Retry later"}
    assert secret == [200, 200, 200, 429]
    assert later == 200


def test_failed_attempts_are_throttled_by_address(client, creds, settings):
    settings.KIT_API_ADDRESS_RATE_LIMIT = 5
    with time_machine.travel(1_800_000_010, tick=False):
        codes = [client.get("/v3/tags", {"api_key": f"guess{i}"}).status_code for i in range(7)]
    assert codes == [401] * 5 + [429] * 2


def test_an_unknown_v3_path_is_kits_json_404(client, creds):
    response = client.get("/v3/nothing/here", {"api_key": creds.api_key})
    assert response.status_code == 404
    assert response.json()["error"] == "Not Found"


# Kit's access level for every route (reference/kit.md 1.4): K = the public key is enough.
LEVELS = [
    ("get", "account", "S"),
    ("get", "forms", "K"),
    ("post", "forms/1/subscribe", "K"),
    ("get", "forms/1/subscriptions", "S"),
    ("get", "sequences", "K"),
    ("get", "courses", "K"),
    ("post", "sequences/1/subscribe", "K"),
    ("get", "sequences/1/subscriptions", "S"),
    ("get", "tags", "K"),
    ("post", "tags", "K"),
    ("post", "tags/1/subscribe", "K"),
    ("post", "tags/1/unsubscribe", "S"),
    ("get", "tags/1/subscriptions", "S"),
    ("get", "subscribers", "S"),
    ("get", "subscribers/1", "S"),
    ("put", "subscribers/1", "S"),
    ("put", "unsubscribe", "S"),
    ("get", "subscribers/1/tags", "K"),
    ("delete", "subscribers/1/tags/1", "S"),
    ("get", "custom_fields", "K"),
    ("post", "custom_fields", "S"),
    ("put", "custom_fields/1", "S"),
    ("delete", "custom_fields/1", "S"),
    ("get", "purchases", "S"),
    ("get", "purchases/1", "S"),
    ("post", "purchases", "S"),
    ("get", "broadcasts", "S"),
    ("post", "broadcasts", "S"),
    ("get", "broadcasts/1", "S"),
    ("put", "broadcasts/1", "S"),
    ("delete", "broadcasts/1", "S"),
    ("get", "broadcasts/1/stats", "S"),
    ("post", "automations/hooks", "S"),
    ("delete", "automations/hooks/1", "S"),
]


@pytest.mark.parametrize("method, path, level", LEVELS, ids=[f"{m} {p}" for m, p, _ in LEVELS])
def test_each_route_asks_for_kits_credential(client, creds, method, path, level):
    url = f"/v3/{path}?api_key={creds.api_key}"
    response = (
        getattr(client, method)(url)
        if method in ("get", "delete")
        else getattr(client, method)(url, "{}", content_type="application/json")
    )
    insufficient = (
        response.status_code == 401 and "sufficient permissions" in (response.json()["message"])
    )
    assert insufficient == (level == "S"), response.content


def test_api_credentials_command_prints_and_regenerates(capsys, creds):
    call_command("api_credentials")
    assert creds.api_secret in capsys.readouterr().out
    call_command("api_credentials", "--regenerate")
    assert creds.api_secret not in capsys.readouterr().out


def test_account(v3):
    body = v3().get("account").json()
    assert set(body) == {"name", "plan_type", "primary_email_address"}


def test_the_admin_page_shows_and_regenerates_the_credentials(admin_client, creds):
    page = admin_client.get("/admin/api/apicredential/")
    assert page.status_code == 200
    admin_client.post(
        "/admin/api/apicredential/", {"action": "regenerate", "_selected_action": [creds.pk]}
    )
    creds_after = type(creds).objects.get(pk=creds.pk)
    assert creds_after.api_secret != creds.api_secret
    detail = admin_client.get(f"/admin/api/apicredential/{creds.pk}/change/")
    assert creds_after.api_key in detail.content.decode()
