"""What every /v4/ endpoint shares: Kit's v4 authentication, errors, rate limit and cursor
pages.

A request authenticates with a v4 API key in the ``X-Kit-Api-Key`` header, or with an OAuth 2
access token (``Authorization: Bearer …``); nothing else (no query-string keys, no v3
credentials: Kit keeps the two apart). Every error is ``{"errors": ["…"]}``.
"""

import base64
import binascii
import inspect
import json
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.services import api_key_authenticate
from apps.api.v3.base import address_allow, credential_allow, is_whole_number
from apps.core.client_address import client_address
from apps.core.jsonlimits import has_nul

NUL_REFUSED = "Text must not contain NUL characters (\\u0000)."
READ_OR_WRITE = {True: "read", False: "write"}
DEFAULT_PER_PAGE = 500
MAX_PER_PAGE = 1000
MAX_ID = 2**31 - 1
# Dates a filter may name: wide enough for any account, narrow enough that a window of days
# around them stays a valid date.
MIN_YEAR, MAX_YEAR = 1970, 9000
KEY_HEADER = "X-Kit-Api-Key"


class V4Error(Exception):
    def __init__(self, http_status: int, *messages: str, headers: dict | None = None):
        super().__init__("; ".join(messages))
        self.http_status, self.messages, self.headers = http_status, list(messages), headers


def not_found(what: str = "") -> V4Error:
    return V4Error(404, f"{what} not found" if what else "Not Found")


def invalid(*messages: str) -> V4Error:
    return V4Error(422, *messages)


def too_many(retry_after: int) -> V4Error:
    return V4Error(429, "Retry later", headers={"Retry-After": str(retry_after)})


def errors_response(http_status: int, messages: list[str], headers=None) -> Response:
    return Response({"errors": messages}, status=http_status, headers=headers)


class ErrorsSerializer(serializers.Serializer):
    """Every v4 error: one or more messages saying what was wrong."""

    errors = serializers.ListField(child=serializers.CharField())


ERROR_CODES = (400, 401, 403, 404, 405, 413, 415, 422, 429)
SUCCESS_CODES = {"GET": (200,), "POST": (200, 201), "PUT": (200,), "DELETE": (204,)}


class V4Schema(AutoSchema):
    """Kit's v4 shapes are JSON objects described in words; the key is a header (or an OAuth
    bearer token); errors are ``{"errors": [...]}``."""

    def get_tags(self):
        return ["Kit v4"]

    def get_description(self):
        """The handler's docstring, or the view's own (never the base class's)."""
        handler = getattr(self.view, self.method.lower(), None)
        doc = getattr(handler, "__doc__", None) or type(self.view).__dict__.get("__doc__")
        return inspect.cleandoc(doc) if doc else ""

    def get_auth(self):
        return [{"KitApiKey": []}, {"OAuth2": [READ_OR_WRITE[self.method in ("GET",)]]}]

    def get_operation_id(self):
        name = type(self.view).__name__.removesuffix("View")
        return f"v4_{name}_{self.method.lower()}"

    def get_request_serializer(self):
        return OpenApiTypes.OBJECT if self.method in ("POST", "PUT") else None

    def get_response_serializers(self):
        codes = getattr(self.view, "success_codes", {}).get(self.method)
        codes = codes or SUCCESS_CODES.get(self.method, (200,))
        answers = {code: None if code == 204 else OpenApiTypes.OBJECT for code in codes}
        return {**answers, **{code: ErrorsSerializer for code in ERROR_CODES}}

    def get_override_parameters(self):
        params = []
        for name in getattr(self.view, "query_params", ()):
            params.append(OpenApiParameter(name, str, description=QUERY_HELP.get(name, "")))
        return params


QUERY_HELP = {
    "after": "A pagination end_cursor: the page after it.",
    "before": "A pagination start_cursor: the page before it.",
    "per_page": f"Rows per page (default {DEFAULT_PER_PAGE}, at most {MAX_PER_PAGE}).",
    "include_total_count": "true adds pagination.total_count (one more query).",
}
PAGE_PARAMS = ("after", "before", "per_page", "include_total_count")


class V4View(APIView):
    """Base for Kit's v4 routes: the caller (an ApiKey, or an OAuth token) is ``self.caller``."""

    schema = V4Schema()
    query_params: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        address = client_address(request)
        # Failed attempts count too: guessing keys costs the guesser the same budget.
        allowed, wait = address_allow(address)
        if not allowed:
            raise too_many(wait)
        raw = request.headers.get(KEY_HEADER)
        bearer = request.headers.get("Authorization", "")
        if raw:
            self.caller = api_key_authenticate(raw.strip())
            if self.caller is None:
                raise V4Error(401, "The API key is invalid")
            budget, limit = f"v4key:{self.caller.pk}", settings.KIT_API_RATE_LIMIT
        elif bearer.lower().startswith("bearer "):
            from .oauth import oauth_caller

            self.caller = oauth_caller(request, bearer[7:].strip())
            if self.caller is None:
                raise V4Error(401, "The access token is invalid")
            budget, limit = f"v4oauth:{self.caller.pk}", settings.KIT_API_OAUTH_RATE_LIMIT
        else:
            raise V4Error(
                401,
                f"Authentication is required: send a v4 API key in the {KEY_HEADER} header "
                "or an OAuth access token as Authorization: Bearer <token>.",
            )
        allowed, wait = credential_allow(budget, limit=limit)
        if not allowed:
            raise too_many(wait)
        query = {k: request.query_params.getlist(k) for k in request.query_params}
        if has_nul(query) or has_nul(request.data if isinstance(request.data, dict | list) else {}):
            raise V4Error(400, NUL_REFUSED)

    def body(self) -> dict:
        data = self.request.data
        if hasattr(data, "dict"):
            data = data.dict()
        if not isinstance(data, dict):
            raise V4Error(400, "The request body must be a JSON object.")
        return data

    def handle_exception(self, exc):
        if isinstance(exc, V4Error):
            return errors_response(exc.http_status, exc.messages, exc.headers)
        if isinstance(exc, Http404):
            return errors_response(404, ["Not Found"])
        if isinstance(exc, ValidationError):
            return errors_response(422, exc.messages)
        if isinstance(exc, exceptions.ParseError):
            return errors_response(400, [f"The request body could not be read: {exc.detail}"])
        if isinstance(exc, exceptions.UnsupportedMediaType):
            return errors_response(415, ["Send a JSON body (Content-Type: application/json)."])
        if isinstance(exc, exceptions.MethodNotAllowed):
            return errors_response(405, [str(exc.detail)])
        if isinstance(exc, exceptions.APIException):
            return errors_response(exc.status_code, [str(exc.detail)])
        return super().handle_exception(exc)


# Parameters -------------------------------------------------------------------------------


def as_id(value, name: str = "id", *, missing_is_404: bool = True) -> int:
    """A path or body id. In a path, anything but a whole number is an unknown record (404, as
    Kit answers); in a body it is a 422 naming the field."""
    text = str(value).strip() if isinstance(value, int | str) and value is not True else ""
    if not is_whole_number(value) or not 0 < int(text) <= MAX_ID:
        if missing_is_404:
            raise not_found()
        raise invalid(f"{name} must be a whole number, got {value!r}.")
    return int(text)


def get_or_404(model, pk, what: str = ""):
    found = model.objects.filter(pk=as_id(pk)).first()
    if found is None:
        raise not_found(what)
    return found


def text_param(value, name: str, *, required: bool = False, max_length: int = 255) -> str:
    if value is None:
        value = ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise invalid(f"{name} must be text, got {type(value).__name__}.")
    value = str(value)
    if required and not value.strip():
        raise invalid(f"{name.capitalize()} can't be blank")
    if len(value) > max_length:
        raise invalid(f"{name} is longer than {max_length} characters.")
    return value


def bool_param(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise invalid(f"{name} must be true or false, got {value!r}.")


def when_param(params, name: str):
    """A date (yyyy-mm-dd) or date-time query parameter, or None."""
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        parsed = parse_datetime(value) or parse_date(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise invalid(f"{name} must be a date (yyyy-mm-dd) or an ISO 8601 time, got {value!r}.")
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise invalid(f"{name} must be between the years {MIN_YEAR} and {MAX_YEAR}.")
    return parsed


def choice_param(params, name: str, choices: tuple[str, ...], default: str) -> str:
    value = params.get(name) or default
    if value not in choices:
        raise invalid(f"{name} must be one of {', '.join(choices)}, got {value!r}.")
    return value


# Cursor pages -----------------------------------------------------------------------------


def _encode(values: list) -> str:
    return base64.b64encode(json.dumps(values, separators=(",", ":")).encode()).decode()


def _decode(cursor: str, name: str) -> list:
    try:
        values = json.loads(base64.b64decode(cursor.encode(), validate=True))
    except (ValueError, binascii.Error, UnicodeError):
        values = None
    if not isinstance(values, list) or not values:
        raise invalid(f"{name} is not a cursor from this API (use a pagination cursor).")
    return values


def _cursor_value(obj, field: str):
    value = getattr(obj, field)
    return value.isoformat() if isinstance(value, datetime) else value


def _cursor_pk(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise invalid("The cursor belongs to another sort order.")
    return value


def _after_q(field: str, values: list, forward: bool):
    """Rows strictly after ``values`` in (field, pk) order (before, when not ``forward``)."""
    from django.db.models import Q

    op = "gt" if forward else "lt"
    if field == "pk":
        return Q(**{f"pk__{op}": _cursor_pk(values[-1])})
    value = None
    if len(values) == 2 and isinstance(values[0], str):
        try:
            value = parse_datetime(values[0])
        except ValueError:
            value = None
    if value is None:
        raise invalid("The cursor belongs to another sort order.")
    pk = _cursor_pk(values[1])
    return Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"pk__{op}": pk})


def cursor_page(queryset, params, key: str, render, *, field: str = "pk", desc: bool = False):
    """Kit's cursor page: ``{key: [...], "pagination": {...}}``, keyset-ordered by
    (``field``, pk) so rows inserted meanwhile neither repeat nor shift a page."""
    per_page = params.get("per_page") or DEFAULT_PER_PAGE
    if not is_whole_number(per_page) or not 1 <= int(per_page) <= MAX_PER_PAGE:
        raise invalid(f"per_page must be a whole number from 1 to {MAX_PER_PAGE}.")
    per_page = int(per_page)
    after, before = params.get("after"), params.get("before")
    if after and before:
        raise invalid("Send after or before, not both.")
    base = queryset
    fields = ["pk"] if field == "pk" else [field, "pk"]
    forward_order = [f"-{f}" if desc else f for f in fields]
    backward_order = [f[1:] if f.startswith("-") else f"-{f}" for f in forward_order]
    if before:
        values = _decode(before, "before")
        rows = list(
            base.filter(_after_q(field, values, forward=desc)).order_by(*backward_order)[
                : per_page + 1
            ]
        )
        has_previous = len(rows) > per_page
        rows = rows[:per_page][::-1]
        has_next = base.exclude(_after_q(field, values, forward=desc)).exists()
    else:
        filtered = base
        if after:
            values = _decode(after, "after")
            filtered = base.filter(_after_q(field, values, forward=not desc))
        rows = list(filtered.order_by(*forward_order)[: per_page + 1])
        has_next = len(rows) > per_page
        rows = rows[:per_page]
        has_previous = bool(after) and base.exclude(_after_q(field, values, not desc)).exists()

    def cursor(obj):
        return _encode([_cursor_value(obj, f) for f in fields])

    pagination = {
        "has_previous_page": has_previous,
        "has_next_page": has_next,
        "start_cursor": cursor(rows[0]) if rows else None,
        "end_cursor": cursor(rows[-1]) if rows else None,
        "per_page": per_page,
    }
    if str(params.get("include_total_count", "")).lower() == "true":
        pagination["total_count"] = base.count()
    return {key: render(rows), "pagination": pagination}
