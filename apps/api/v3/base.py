"""What every /v3/ endpoint shares: Kit's credentials, errors, throttle and paging.

Credentials come from the query string, a JSON body or a form body (Kit's clients use all
three). ``api_secret`` works wherever ``api_key`` does."""

import hmac
import json
import logging
import math
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.services import api_credentials_get
from apps.core.client_address import client_address
from apps.core.jsonlimits import has_nul
from apps.core.throttle import log_allow, window_allow, window_retry_after

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
DB_RETRY_AFTER_SECONDS = 5
AUTH_FAILED = "Authorization Failed"


def _same(given, expected: str) -> bool:
    """Constant-time comparison of a credential (text only)."""
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def _unflatten(query) -> dict:
    """Form and query encodings as clients send them: ``tag[name]=x`` is ``{"tag": {"name":
    "x"}}``, ``tags[]=1&tags[]=2`` (or a repeated ``tags``) is a list."""
    result: dict = {}
    for key, values in query.lists():
        if key.endswith("[]"):
            result[key[:-2]] = values
        elif "[" in key and key.endswith("]"):
            outer, inner = key[:-1].split("[", 1)
            target = result.setdefault(outer, {})
            if isinstance(target, dict):
                target[inner] = values[-1]
        else:
            result[key] = values if len(values) > 1 else values[-1]
    return result


class V3Error(Exception):
    def __init__(self, http_status: int, error: str, message: str = "", headers=None):
        super().__init__(message or error)
        self.http_status, self.error, self.message = http_status, error, message
        self.headers = headers


def address_allow(address: str) -> tuple[bool, int]:
    """(allowed, seconds to wait) for one address, before authentication (v3 and v4): the
    window estimate, cheap enough for every request, failed ones included."""
    window = settings.KIT_API_RATE_WINDOW_SECONDS
    limit = settings.KIT_API_ADDRESS_RATE_LIMIT or settings.KIT_API_RATE_LIMIT
    if window_allow(f"v3:addr:{address}", limit=limit, window=window):
        return True, 0
    return False, window_retry_after(window=window)


def credential_allow(budget: str, *, limit: int | None = None) -> tuple[bool, int]:
    """(allowed, seconds to wait) for one credential's budget (v3 and v4): Kit's exact
    rolling window."""
    return log_allow(
        budget,
        limit=limit or settings.KIT_API_RATE_LIMIT,
        window=settings.KIT_API_RATE_WINDOW_SECONDS,
    )


def too_many(retry_after: int) -> V3Error:
    """429 with Retry-After: when the caller may try again, so clients back off that long."""
    return V3Error(429, "Too Many Requests", "Retry later", {"Retry-After": str(retry_after)})


def not_found(
    error: str = "Not Found", message: str = "The entity you were trying to find doesn't exist"
) -> V3Error:
    return V3Error(404, error, message)


def unprocessable(message: str, error: str = "Unprocessable Entity") -> V3Error:
    return V3Error(422, error, message)


class V3Schema(AutoSchema):
    """Kit's shapes are free-form JSON (a bare object or a bare list depending on the input),
    described in words rather than serializers; credentials are parameters."""

    def get_tags(self):
        return ["Kit v3"]

    def get_operation_id(self):
        name = type(self.view).__name__.removesuffix("View")
        alias = "_courses" if self.path.startswith("/v3/courses") else ""
        return f"v3_{name}{alias}_{self.method.lower()}"

    def get_request_serializer(self):
        return OpenApiTypes.OBJECT if self.method in ("POST", "PUT") else None

    def get_response_serializers(self):
        return OpenApiTypes.OBJECT

    def get_override_parameters(self):
        return [
            OpenApiParameter("api_key", str, description="The public key (or the secret)."),
            OpenApiParameter("api_secret", str, description="The private key."),
        ]


class V3View(APIView):
    """Base for Kit's v3 routes. ``access``: "key" (the public key is enough) or "secret",
    or a dict of those by HTTP method."""

    access: str | dict = "secret"
    schema = V3Schema()

    def required_access(self, request) -> str:
        if isinstance(self.access, dict):
            return self.access.get(request.method, "secret")
        return self.access

    def params(self, request) -> dict:
        """Query string, then the body (JSON or form) on top: Kit's lenient merge."""
        merged = _unflatten(request.query_params)
        data = request.data
        if hasattr(data, "lists"):  # a form body
            merged |= _unflatten(data)
        elif isinstance(data, dict):
            merged |= data
        if has_nul(merged):
            # PostgreSQL stores no NUL character in text: refuse it here, whatever the field.
            raise V3Error(400, "Bad Request", "Text must not contain NUL characters (\\u0000).")
        return merged

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        params = self.params(request)
        # Failed attempts count too: guessing keys costs the guesser the same budget.
        allowed, wait = address_allow(client_address(request))
        if not allowed:
            raise too_many(wait)
        credential = api_credentials_get()
        secret, key = params.get("api_secret"), params.get("api_key")
        if secret:
            if not _same(secret, credential.api_secret):
                raise V3Error(401, AUTH_FAILED, "API Secret not valid")
            self.with_secret = True
        elif key:
            self.with_secret = _same(key, credential.api_secret)
            if not (self.with_secret or _same(key, credential.api_key)):
                raise V3Error(401, AUTH_FAILED, "API Key not valid")
            if self.required_access(request) == "secret" and not self.with_secret:
                raise V3Error(
                    401,
                    AUTH_FAILED,
                    "You do not have sufficient permissions to access this resource",
                )
        else:
            raise V3Error(401, AUTH_FAILED, "API Key not present")
        # One budget per credential, whichever parameter carried it.
        allowed, wait = credential_allow(f"{'s' if self.with_secret else 'k'}:{credential.pk}")
        if not allowed:
            raise too_many(wait)
        self.args_ = params

    def subscriber_shape(self, subscriber) -> dict:
        """The subscriber in a subscribe answer: in full for the secret, only the id for the
        public key (Kit stopped returning personal data to public-key callers)."""
        from . import shapes

        return shapes.subscribers([subscriber])[0] if self.with_secret else {"id": subscriber.pk}

    def handle_exception(self, exc):
        if isinstance(exc, V3Error):
            return Response(
                {"error": exc.error, "message": exc.message},
                status=exc.http_status,
                headers=exc.headers,
            )
        if isinstance(exc, Http404):
            exc = not_found()
            return Response({"error": exc.error, "message": exc.message}, status=404)
        if isinstance(exc, exceptions.ParseError):
            return Response(
                {
                    "error": "Bad Request",
                    "message": f"The request body could not be read: {exc.detail}",
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        if isinstance(exc, exceptions.UnsupportedMediaType):
            return Response(
                {
                    "error": "Unsupported Media Type",
                    "message": "Send JSON (application/json) or a form body.",
                },
                status=415,
            )
        if isinstance(exc, exceptions.MethodNotAllowed):
            return Response({"error": "Method Not Allowed", "message": str(exc.detail)}, status=405)
        if isinstance(exc, ValidationError):
            return Response(
                {"error": "Unprocessable Entity", "message": " ".join(exc.messages)}, status=422
            )
        if isinstance(exc, DataError):
            # The last guard behind the views' own checks: a value the column cannot hold.
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return Response(
                {
                    "error": "Unprocessable Entity",
                    "message": f"A value does not fit its field ({detail}); send it shorter or "
                    "smaller.",
                },
                status=422,
            )
        if isinstance(exc, OperationalError | InterfaceError):
            # The database went away mid-request (a restart, a failover): the transaction was
            # rolled back, and a retry is safe (a purchase's transaction_id is recorded once).
            logger.warning("v3 %s answered 503: database unavailable (%s)", self.request.path, exc)
            return Response(
                {
                    "error": "Service Unavailable",
                    "message": "The database could not be reached, so nothing was recorded. "
                    "Retry in a few seconds.",
                },
                status=503,
                headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)},
            )
        return super().handle_exception(exc)


MAX_ID = 2**31 - 1
_WHOLE = re.compile(r"[0-9]{1,18}")


def is_whole_number(value) -> bool:
    """ASCII digits only: ``str.isdigit`` also takes "¹" and "٣", which ``int`` refuses."""
    return (
        isinstance(value, str | int)
        and not isinstance(value, bool)
        and bool(_WHOLE.fullmatch(str(value).strip()))
    )


def as_int(value, name: str, *, minimum: int = 0, maximum: int = MAX_ID) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise unprocessable(f"{name} must be a whole number, got {value!r}.")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise unprocessable(f"{name} must be a whole number, got {value!r}.") from None
    if not minimum <= number <= maximum:
        raise unprocessable(f"{name} must be between {minimum} and {maximum}.")
    return number


def path_id(value) -> int:
    """An id from the path: anything but a whole number names no record, so it is a 404 as in
    Kit (n8n's delete-tag node sends ``/v3/tags/42>/unsubscribe``), not a 422."""
    text = str(value).strip()
    if not is_whole_number(text) or not 0 < int(text) <= MAX_ID:
        raise not_found()
    return int(text)


def as_text(value, name: str, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise unprocessable(f"{name} must be text, got {type(value).__name__}.")
    if required and not str(value).strip():
        raise unprocessable(f"{name} can't be blank")
    return str(value)


def as_dict(value, name: str) -> dict:
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise unprocessable(f"{name} must be an object of key: value.") from None
    if not isinstance(value, dict):
        raise unprocessable(f"{name} must be an object of key: value.")
    return value


def as_id_list(value, name: str) -> list[int]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v for v in value.replace("[", "").replace("]", "").split(",") if v.strip()]
    if not isinstance(value, list):
        value = [value]
    return [as_int(v, name) for v in value]


LIST_LIMIT_MAX = 1000


def whole_or_paged(queryset, params: dict, render) -> list:
    """Lists Kit returns whole (tags, broadcasts): whole without ``page``; with it, that page
    of ``limit`` rows (50 by default) and an empty list past the end, which is where clients
    that page until an empty page (Airbyte's tags stream) stop."""
    if params.get("page") in (None, ""):
        return render(list(queryset))
    page = as_int(params.get("page"), "page", minimum=1, maximum=1_000_000)
    limit = as_int(params.get("limit", PAGE_SIZE), "limit", minimum=1, maximum=LIST_LIMIT_MAX)
    return render(list(queryset[(page - 1) * limit : page * limit]))


def page_of(queryset, params: dict, key: str, render) -> dict:
    """Kit's paging: 50 a page, 1-based, with the totals beside the list."""
    page = as_int(params.get("page", 1), "page", minimum=1, maximum=1_000_000)
    total = queryset.count()
    rows = list(queryset[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
    return {
        f"total_{key}": total,
        "page": page,
        "total_pages": max(math.ceil(total / PAGE_SIZE), 1),
        key: render(rows),
    }
