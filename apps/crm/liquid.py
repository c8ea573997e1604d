"""Liquid rendering (python-liquid, the language Kit uses), with errors that say where.

Undefined variables raise instead of rendering blank: a template that needs
``subscriber.accessally_password`` must not go out with an empty password.
"""

import json
from dataclasses import dataclass

from liquid import Environment, StrictUndefined
from liquid.exceptions import LiquidError

from .models import Subscriber, SubscriberFieldValue


@dataclass
class TemplateError(Exception):
    message: str
    line: int | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def _json(value) -> str:
    return json.dumps(value, default=str)


_ENV = Environment(undefined=StrictUndefined)
_ENV.filters["json"] = _json


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


def subscriber_liquid_context(subscriber: Subscriber) -> dict:
    """``subscriber.first_name``, ``.email_address``, ``.id``, ``.state`` and every custom field
    by key, as in Kit (a field with no value renders as an empty string)."""
    from .models import CustomField

    fields = dict.fromkeys(CustomField.objects.values_list("key", flat=True), "")
    fields.update(
        SubscriberFieldValue.objects.filter(subscriber=subscriber).values_list(
            "field__key", "value"
        )
    )
    return {
        "subscriber": {
            **fields,
            "id": subscriber.pk,
            "first_name": subscriber.first_name,
            "email_address": subscriber.email,
            "state": subscriber.state,
        }
    }
