"""Kit's v4 API as the import reads it: pages, and 429s (and gateway errors) waited out."""

import json
import time
import urllib.error
import urllib.parse
import urllib.request

PER_PAGE = 1000
REQUEST_TIMEOUT_SECONDS = 60
# Kit allows 120 requests a minute per key: a 429 is waited out (its Retry-After), a few times.
RETRIES = 5
RETRY_WAIT_MAX_SECONDS = 120


class KitError(Exception):
    """Kit refused or could not be reached: the import stops, resumable."""


class KitClient:
    def __init__(self, *, base_url: str, api_key: str, sleep=time.sleep):
        self.base_url, self.api_key, self.sleep = base_url.rstrip("/"), api_key, sleep

    def get(self, path: str, params: dict | None = None) -> dict:
        url = f"{self.base_url}/v4/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(
            url, headers={"X-Kit-Api-Key": self.api_key, "Accept": "application/json"}
        )
        for attempt in range(RETRIES + 1):
            try:
                with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as answer:
                    return json.loads(answer.read())
            except urllib.error.HTTPError as exc:
                if exc.code in (429, 502, 503, 504) and attempt < RETRIES:
                    wait = exc.headers.get("Retry-After", "")
                    self.sleep(
                        min(int(wait) if wait.isdigit() else 2**attempt, RETRY_WAIT_MAX_SECONDS)
                    )
                    continue
                raise KitError(
                    f"Kit answered {exc.code} to GET /v4/{path}: {_errors(exc)}"
                ) from None
            except (urllib.error.URLError, TimeoutError, ValueError) as exc:
                if attempt < RETRIES:
                    self.sleep(2**attempt)
                    continue
                raise KitError(f"Could not reach {self.base_url}: {exc}") from None
        raise KitError("unreachable")  # pragma: no cover

    def page(self, path: str, *, after: str | None, params: dict | None = None) -> dict:
        query = {"per_page": PER_PAGE, **(params or {})}
        if after:
            query["after"] = after
        return self.get(path, query)


def _errors(exc: urllib.error.HTTPError) -> str:
    try:
        return "; ".join(json.loads(exc.read()).get("errors", [])) or exc.reason
    except (ValueError, AttributeError):
        return str(exc.reason)
