"""The robustness harness: every route of every public API, found from the URL patterns
themselves, fed odd input; each answer must be a documented error, never a 500.

An API is one ``ApiProfile``: its URL prefix, how a client authenticates, and the shape of
its error bodies. Adding the v4 API is one more profile in ``APIS``, for example::

    ApiProfile(
        name="v4",
        prefix="v4/",
        headers=lambda creds: {"HTTP_X_KIT_API_KEY": creds.api_secret},
        error_keys=frozenset({"errors"}),
    )

and every test in ``test_v3_robustness.py`` then runs over its routes too. The requests sent
are counted (``REQUESTS``); the suite prints the total at the end (``conftest.py``).
"""

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver

REQUESTS: Counter = Counter()
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
_PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


@dataclass(frozen=True)
class ApiProfile:
    name: str
    prefix: str
    # Credentials in the query string and the body (v3: api_secret), or in headers.
    params: Callable = field(default=lambda creds: {})
    headers: Callable = field(default=lambda creds: {})
    error_keys: frozenset = frozenset()

    def routes(self) -> list[tuple[str, str]]:
        """(method, route) for every route under the prefix; catch-alls left out."""
        found = set()
        for route, callback in _walk(get_resolver().url_patterns, ""):
            if not route.startswith(self.prefix) or "<path:" in route:
                continue
            for method in _methods(callback):
                found.add((method, route))
        return sorted(found)

    def send(self, client, creds, method, path, params=None, *, raw=None, headers=None):
        """One request as this API's clients send it: credentials in the query for GET and
        DELETE, in the JSON body otherwise (or ``raw`` as the body, verbatim)."""
        REQUESTS[self.name] += 1
        extra = {**self.headers(creds), **(headers or {})}
        auth = self.params(creds)
        if method in ("get", "delete"):
            query = {**auth}
            for key, value in (params or {}).items():
                query[key] = value if isinstance(value, str) else json.dumps(value)
            if method == "get":
                return client.get(path, query, **extra)
            from urllib.parse import urlencode

            return client.delete(f"{path}?{urlencode(query)}", **extra)
        body = raw if raw is not None else json.dumps({**auth, **(params or {})})
        return getattr(client, method)(path, body, content_type="application/json", **extra)

    def check(self, response) -> None:
        assert response.status_code < 500, (response.status_code, response.content[:500])
        if response.status_code >= 400 and self.error_keys:
            assert set(response.json()) == self.error_keys, response.content[:500]


def _walk(patterns, prefix: str):
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route.replace("\\.", "."), pattern.callback


def _methods(callback) -> list[str]:
    actions = getattr(callback, "actions", None)  # a DRF viewset's routed methods
    if actions:
        return sorted(actions)
    view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    return [m for m in HTTP_METHODS if view is not None and hasattr(view, m)]


def route_path(route: str, ids: dict, default: str = "1") -> str:
    """The route with each parameter replaced by ``ids[name]`` (``default`` if unnamed)."""
    path = _PARAM.sub(lambda m: str(ids.get(m.group(1) or m.group(2), default)), route)
    return "/" + path.replace("(?:", "").replace(")?", "")


def nested(depth: int):
    """A JSON text nested ``depth`` levels deep (Python's parser recursed once per level)."""
    return "[" * depth + "]" * depth


APIS = [
    ApiProfile(
        name="v3",
        prefix="v3/",
        params=lambda creds: {"api_secret": creds.api_secret},
        error_keys=frozenset({"error", "message"}),
    ),
    ApiProfile(
        name="v4",
        prefix="v4/",
        # The key manage.py api_credentials prints (made on first use, the same each time).
        headers=lambda creds: {"HTTP_X_KIT_API_KEY": _v4_key()},
        error_keys=frozenset({"errors"}),
    ),
]


def _v4_key() -> str:
    from apps.api.services import api_key_for_cli

    return api_key_for_cli()
