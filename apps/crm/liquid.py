"""Liquid rendering (python-liquid, the language Kit uses), with errors that say where.

A variable with no value is undefined, and printing an undefined variable raises instead of
rendering blank: an email that needs ``subscriber.accessally_password`` is held, not sent with
an empty password. ``{% if subscriber.x %}`` still treats it as false, and ``| default: "..."``
still works. Apps above crm add variables (``login_url``, ``set_password_url``) through
``liquid_context_provider_register``.
"""

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass

from liquid import BoundTemplate, Environment, FalsyStrictUndefined, RenderContext
from liquid.exceptions import (
    LiquidError,
    LoopIterationLimitError,
    OutputStreamLimitError,
    ResourceLimitError,
)

from .models import Subscriber, SubscriberFieldValue
from .services import REDACTED


@dataclass
class TemplateError(Exception):
    message: str
    line: int | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class _JsonEscaped(str):
    """A context value already escaped for the inside of a JSON string (a webhook payload
    written as text); ``raw`` is the value itself, for the ``json`` filter."""

    raw: object

    def __new__(cls, value: str):
        escaped = super().__new__(cls, json.dumps(value)[1:-1])
        escaped.raw = value
        return escaped


def _json(value) -> str:
    return json.dumps(getattr(value, "raw", value), default=str)


# Bounds on one render (issue 14, M4): a creator's template (or a subscriber's value, should
# one ever be rendered) must not tie up a web or Celery worker. Loops are counted before they
# start, nested loops multiplied; the output stops at its size; the clock is read at the start
# of every loop, where the time goes.
LIQUID_LOOP_ITERATIONS_MAX = 10_000
LIQUID_OUTPUT_CHARS_MAX = 1_000_000
LIQUID_RENDER_SECONDS_MAX = 2.0

_deadline: ContextVar[float | None] = ContextVar("liquid_deadline", default=None)


class RenderTimeLimitError(ResourceLimitError):
    pass


class _BoundedContext(RenderContext):
    def raise_for_loop_limit(self, length: int = 1) -> None:
        super().raise_for_loop_limit(length)
        deadline = _deadline.get()
        if deadline is not None and time.monotonic() > deadline:
            raise RenderTimeLimitError("time limit reached", token=None)


class _BoundedTemplate(BoundTemplate):
    context_class = _BoundedContext


class _BoundedEnvironment(Environment):
    loop_iteration_limit = LIQUID_LOOP_ITERATIONS_MAX
    output_stream_limit = LIQUID_OUTPUT_CHARS_MAX
    template_class = _BoundedTemplate


_ENV = _BoundedEnvironment(undefined=FalsyStrictUndefined)
_ENV.filters["json"] = _json

_LIMIT_MESSAGES = {
    LoopIterationLimitError: f"the template loops more than {LIQUID_LOOP_ITERATIONS_MAX:,} "
    "times in all; loop over fewer items",
    OutputStreamLimitError: f"the template renders more than {LIQUID_OUTPUT_CHARS_MAX:,} "
    "characters; make it shorter",
    RenderTimeLimitError: f"the template took more than {LIQUID_RENDER_SECONDS_MAX:g} s to "
    "render; loop over fewer items",
}

# name -> function(subscribers) -> {subscriber id: {variable: value}}
_PROVIDERS: dict[str, Callable[[list[Subscriber]], dict[int, dict]]] = {}
# Variables providers marked secret (one-time links that log their holder in).
_SECRET_VARIABLES: set[str] = set()


def liquid_context_provider_register(
    *,
    name: str,
    provide: Callable[[list[Subscriber]], dict[int, dict]],
    secrets: Iterable[str] = (),
) -> None:
    _PROVIDERS[name] = provide
    _SECRET_VARIABLES.update(secrets)


def _line_of(exc: LiquidError, source: str) -> int | None:
    token = getattr(exc, "token", None)
    start = getattr(token, "start_index", None)
    return source[:start].count("\n") + 1 if isinstance(start, int) else None


def template_check(source: str) -> None:
    """Raise TemplateError if ``source`` is not valid Liquid."""
    try:
        _ENV.from_string(source)
    except LiquidError as exc:
        raise TemplateError(str(exc).splitlines()[0], _line_of(exc, source)) from None


def template_render(source: str, context: dict) -> str:
    """Render, within the loop, output and time bounds above: past one, a TemplateError that
    says which (an email is held with it, a preview shows it)."""
    reset = _deadline.set(time.monotonic() + LIQUID_RENDER_SECONDS_MAX)
    try:
        return _ENV.from_string(source).render(**context)
    except ResourceLimitError as exc:
        message = next(
            (text for kind, text in _LIMIT_MESSAGES.items() if isinstance(exc, kind)),
            str(exc).splitlines()[0],
        )
        raise TemplateError(message, _line_of(exc, source)) from None
    except LiquidError as exc:
        raise TemplateError(str(exc).splitlines()[0], _line_of(exc, source)) from None
    finally:
        _deadline.reset(reset)


def liquid_contexts(
    subscribers: Iterable[Subscriber], *, redact_sensitive: bool = False
) -> dict[int, dict]:
    """Every subscriber's template variables, for a batch, in a fixed number of queries:
    ``subscriber.first_name``, ``.email_address``, ``.id``, ``.state``, each custom field with
    a value by key, the unsubscribe and preferences links, and what higher apps provide.
    ``redact_sensitive``: sensitive fields read "[redacted]" (what leaves the site, and what
    a viewer who may not see them is shown)."""
    from .preferences import preferences_url, unsubscribe_url

    subscribers = list(subscribers)
    fields: dict[int, dict] = defaultdict(dict)
    for sid, key, value, sensitive in (
        SubscriberFieldValue.objects.filter(subscriber__in=subscribers)
        .exclude(value="")
        .values_list("subscriber_id", "field__key", "value", "field__sensitive")
    ):
        fields[sid][key] = REDACTED if sensitive and redact_sensitive else value
    extra: dict[int, dict] = defaultdict(dict)
    for provide in _PROVIDERS.values():
        for sid, values in provide(subscribers).items():
            extra[sid].update(values)
    contexts = {}
    for s in subscribers:
        unsubscribe, preferences = unsubscribe_url(s), preferences_url(s)
        contexts[s.pk] = {
            "subscriber": {
                **fields[s.pk],
                "id": s.pk,
                "first_name": s.first_name or None,
                "email_address": s.email,
                "state": s.state,
            },
            "unsubscribe_url": unsubscribe,
            "unsubscribe_link": f'<a href="{unsubscribe}">Unsubscribe</a>',
            "subscriber_preferences_url": preferences,
            "subscriber_preferences_link": f'<a href="{preferences}">Update your profile</a>',
            **extra[s.pk],
        }
    return contexts


def liquid_secret_links_redact(context: dict) -> dict:
    """The context with the variables providers marked secret (set-password links, which log
    their holder in) reading "[redacted]"."""
    return {k: REDACTED if k in _SECRET_VARIABLES else v for k, v in context.items()}


def subscriber_liquid_context(subscriber: Subscriber, *, redact_sensitive: bool = False) -> dict:
    return liquid_contexts([subscriber], redact_sensitive=redact_sensitive)[subscriber.pk]


def _json_escaped(value):
    if isinstance(value, str):
        return _JsonEscaped(value)
    if isinstance(value, dict):
        return {k: _json_escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_escaped(v) for v in value]
    return value


def _render_strings(data, context: dict):
    if isinstance(data, str):
        return template_render(data, context)
    if isinstance(data, dict):
        return {_render_strings(k, context): _render_strings(v, context) for k, v in data.items()}
    if isinstance(data, list):
        return [_render_strings(v, context) for v in data]
    return data


def json_template_render(source: str, context: dict) -> str:
    """A JSON body from a Liquid template, where no value can break out of its string.

    A template that is JSON itself (``{"email": "{{ subscriber.email_address }}"}``) is
    rendered as data: each string is rendered on its own and the whole dumped as JSON. Any
    other template is rendered as text with every value JSON-escaped (``| json`` still quotes
    the value itself), and must come out as JSON. Either way a name such as
    ``x", "vip": true`` stays a name."""
    try:
        data = json.loads(source)
    except ValueError:
        data = None
    if isinstance(data, dict | list):
        return json.dumps(_render_strings(data, context))
    body = template_render(source, _json_escaped(context))
    try:
        json.loads(body)
    except ValueError as exc:
        raise TemplateError(f"the payload is not JSON once rendered ({exc})") from None
    return body
