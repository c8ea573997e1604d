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

from .models import CustomField, Subscriber, SubscriberFieldValue

# What a reader without the right to see secrets gets in their place (the admin's preview).
HIDDEN = "[hidden]"


@dataclass
class TemplateError(Exception):
    message: str
    line: int | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def _json(value) -> str:
    return json.dumps(value, default=str)


_ENV = Environment(undefined=FalsyStrictUndefined)
_ENV.filters["json"] = _json

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
    try:
        return _ENV.from_string(source).render(**context)
    except LiquidError as exc:
        raise TemplateError(str(exc).splitlines()[0], _line_of(exc, source)) from None


def liquid_contexts(subscribers: Iterable[Subscriber]) -> dict[int, dict]:
    """Every subscriber's template variables, for a batch, in a fixed number of queries:
    ``subscriber.first_name``, ``.email_address``, ``.id``, ``.state``, each custom field with
    a value by key, the unsubscribe and preferences links, and what higher apps provide."""
    from .preferences import preferences_url, unsubscribe_url

    subscribers = list(subscribers)
    fields: dict[int, dict] = defaultdict(dict)
    for sid, key, value in (
        SubscriberFieldValue.objects.filter(subscriber__in=subscribers)
        .exclude(value="")
        .values_list("subscriber_id", "field__key", "value")
    ):
        fields[sid][key] = value
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


def liquid_secrets_hide(contexts: dict[int, dict]) -> dict[int, dict]:
    """The same contexts with every secret shown as ``HIDDEN``: sensitive custom fields and
    the variables providers marked secret (set-password links)."""
    sensitive = set(CustomField.objects.filter(sensitive=True).values_list("key", flat=True))
    hidden = {}
    for sid, context in contexts.items():
        shown = {k: HIDDEN if k in _SECRET_VARIABLES else v for k, v in context.items()}
        shown["subscriber"] = {
            k: HIDDEN if k in sensitive else v for k, v in context["subscriber"].items()
        }
        hidden[sid] = shown
    return hidden


def subscriber_liquid_context(subscriber: Subscriber) -> dict:
    return liquid_contexts([subscriber])[subscriber.pk]
