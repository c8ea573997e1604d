import json

import pytest
from django.core.cache import cache

from apps.api.services import api_credentials_get


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def creds(db):
    return api_credentials_get()


@pytest.fixture
def v3(client, creds):
    """Call /v3/ as a Kit client does: the secret in the query (GET/DELETE) or the JSON body."""

    class Kit:
        def __init__(self, secret: bool = True):
            self.credential = (
                {"api_secret": creds.api_secret} if secret else {"api_key": creds.api_key}
            )

        def get(self, path, **params):
            return client.get(f"/v3/{path}", {**self.credential, **params})

        def delete(self, path):
            return client.delete(f"/v3/{path}?api_secret={creds.api_secret}")

        def send(self, method, path, body=None):
            payload = json.dumps({**self.credential, **(body or {})})
            return getattr(client, method)(f"/v3/{path}", payload, content_type="application/json")

        def post(self, path, body=None):
            return self.send("post", path, body)

        def put(self, path, body=None):
            return self.send("put", path, body)

    return Kit


@pytest.fixture
def v4key(db):
    """A fresh v4 API key (the raw ``kit_…`` text)."""
    from apps.api.services import api_key_create

    return api_key_create(name="test client")[1]


@pytest.fixture
def v4(client, v4key):
    """Call /v4/ as Kit's SDKs do: the key in X-Kit-Api-Key, JSON bodies."""

    class Kit:
        key = v4key

        def __init__(self, key=None):
            self.headers = {"HTTP_X_KIT_API_KEY": key or v4key}

        def get(self, path, **params):
            return client.get(f"/v4/{path}", params, **self.headers)

        def send(self, method, path, body=None):
            return getattr(client, method)(
                f"/v4/{path}",
                json.dumps(body or {}),
                content_type="application/json",
                **self.headers,
            )

        def post(self, path, body=None):
            return self.send("post", path, body)

        def put(self, path, body=None):
            return self.send("put", path, body)

        def delete(self, path, body=None):
            return self.send("delete", path, body)

    return Kit()


def pytest_terminal_summary(terminalreporter):
    """How many requests the robustness harness sent (issue 14 asks for the count)."""
    from tests.api.fuzz import REQUESTS

    if REQUESTS:
        detail = ", ".join(f"{name} {count:,}" for name, count in sorted(REQUESTS.items()))
        terminalreporter.write_line(
            f"robustness: {sum(REQUESTS.values()):,} requests sent ({detail})"
        )
