"""Liquid rendering (python-liquid, the language Kit uses), with errors that say where.

A variable with no value is undefined, and printing an undefined variable raises instead of
rendering blank: an email that needs ``subscriber.accessally_password`` is held, not sent with
an empty password. ``{% if subscriber.x %}`` still treats it as false, and ``| default: "..."``
still works. Apps above crm add variables (``login_url``, ``set_password_url``) through
``liquid_context_provider_register``.
"""

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from liquid import Environment, FalsyStrictUndefined
from liquid.exceptions import LiquidError

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


_ENV = Environment(undefined=FalsyStrictUndefined)
_ENV.filters["json"] = _json

# name -> function(subscribers) -> {subscriber id: {variable: value}}
_PROVIDERS: dict[str, Callable[[list[Subscriber]], dict[int, dict]]] = {}


def liquid_context_provider_register(
    *, name: str, provide: Callable[[list[Subscriber]], dict[int, dict]]
) -> None:
    _PROVIDERS[name] = provide


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
    try:
        return _ENV.from_string(source).render(**context)
    except LiquidError as exc:
        raise TemplateError(str(exc).splitlines()[0], _line_of(exc, source)) from None


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
