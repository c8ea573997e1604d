"""Done-when 2 of issue 20: a third-party app through OAuth 2 with PKCE, as Kit's App Store
apps (and n8n's Kit credential) do it: register, authorize, exchange, call, refresh, revoke."""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db
REDIRECT = "https://app.example.com/callback"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


@pytest.fixture
def staff(client):
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("owner", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="add_apikey"))
    client.force_login(user)
    return user


def _register(client) -> tuple[str, str]:
    """The app registration page, as the account owner fills it in."""
    page = client.get("/oauth/applications/register/")
    assert page.status_code == 200
    client_id, client_secret = secrets.token_hex(16), secrets.token_hex(32)
    saved = client.post(
        "/oauth/applications/register/",
        {
            "name": "Zapier-like app",
            "client_id": client_id,
            "client_secret": client_secret,
            "hash_client_secret": "on",
            "client_type": "confidential",
            "authorization_grant_type": "authorization-code",
            "redirect_uris": REDIRECT,
            "post_logout_redirect_uris": "",
            "allowed_origins": "",
            "algorithm": "",
        },
    )
    assert saved.status_code == 302, saved.content[:2000]
    return client_id, client_secret


def _authorize(client, client_id: str, challenge: str, scope: str = "read write") -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    consent = client.get("/oauth/authorize/", params)
    assert consent.status_code == 200 and b"Authorize" in consent.content
    allowed = client.post("/oauth/authorize/", {**params, "allow": "Authorize"})
    assert allowed.status_code == 302
    location = urlsplit(allowed["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert query["state"] == ["xyz"]
    return query["code"][0]


def test_an_app_authorizes_with_pkce_calls_v4_refreshes_and_is_revoked(client, staff):
    # given: an app registered by the account owner
    client_id, client_secret = _register(client)
    verifier, challenge = _pkce()
    app = {"client_id": client_id, "client_secret": client_secret}

    # when: the owner consents, and the app exchanges the code with its verifier
    code = _authorize(client, client_id, challenge)
    client.logout()
    wrong = client.post(
        "/oauth/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": "not-the-verifier-" + "x" * 40,
            **app,
        },
    )
    assert wrong.status_code == 400  # PKCE: the code alone is not enough
    client.force_login(staff)
    code = _authorize(client, client_id, challenge)
    client.logout()
    tokens = client.post(
        "/oauth/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            **app,
        },
    ).json()

    # then: the bearer token calls /v4/
    def account(token):
        return client.get("/v4/account", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert set(tokens) >= {"access_token", "refresh_token", "expires_in", "scope"}
    assert account(tokens["access_token"]).status_code == 200

    # a refresh gives a new pair; the old access token stops working
    refreshed = client.post(
        "/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], **app},
    ).json()
    assert refreshed["access_token"] != tokens["access_token"]
    assert account(refreshed["access_token"]).status_code == 200
    assert account(tokens["access_token"]).status_code == 401

    # revoking the token refuses it from then on, with Kit's error body
    revoked = client.post("/oauth/revoke_token/", {"token": refreshed["access_token"], **app})
    assert revoked.status_code == 200
    refused = account(refreshed["access_token"])
    assert refused.status_code == 401
    assert refused.json() == {"errors": ["The access token is invalid"]}


def test_a_read_only_token_cannot_change_anything(client, staff):
    # given
    client_id, client_secret = _register(client)
    verifier, challenge = _pkce()
    code = _authorize(client, client_id, challenge, scope="read")
    client.logout()
    token = client.post(
        "/oauth/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": client_id,
            "client_secret": client_secret,
        },
    ).json()["access_token"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    # when
    read = client.get("/v4/tags", **bearer)
    write = client.post("/v4/tags", {"name": "x"}, content_type="application/json", **bearer)
    # then
    assert read.status_code == 200
    assert write.status_code == 403 and "write" in write.json()["errors"][0]


@pytest.mark.parametrize("is_staff", [False, True])
def test_only_staff_who_may_make_keys_register_apps_or_consent(client, is_staff):
    # given: a member of the site, or staff without the right to make API keys
    client.force_login(get_user_model().objects.create_user("someone", is_staff=is_staff))
    # when
    register = client.get("/oauth/applications/register/")
    consent = client.get("/oauth/authorize/", {"client_id": "x", "response_type": "code"})
    # then
    assert register.status_code == 403 and consent.status_code == 403
