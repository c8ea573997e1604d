"""Kit's credentials, errors and throttle (reference/kit.md 1.1 and 1.2)."""

import pytest
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
    codes = [client.get("/v3/tags", {"api_key": creds.api_key}).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert client.get("/v3/tags", {"api_key": creds.api_key}).json()["error"] == (
        "Too Many Requests"
    )
    # the secret is a key of its own
    assert client.get("/v3/tags", {"api_secret": creds.api_secret}).status_code == 200


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
