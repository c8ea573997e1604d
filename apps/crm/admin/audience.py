"""The broadcast audience builder: the admin's visual editor for a broadcast's ``condition``.

The creator picks rules (has tag / has not tag, subscriber state, a custom field test) in
groups joined by AND / OR (``static/crm/audience_builder.js``); the page writes the condition
in the tags compiler's JSON (``apps/tags/conditions.py``), the same format segments and
automation conditions use, so the audience is one SQL query and nobody types JSON. The live
count asks ``messaging.broadcasts.audience_count`` through a staff-only JSON endpoint
(``broadcast_review.py``). Everything about tags comes through crm's messaging, the one module
allowed to use the tags compiler.
"""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from ..messaging.broadcasts import audience_condition_check, audience_tag_choices
from ..models import CustomField, SubscriberState

# The field tests a segment can compile (gt..lte are compared per subscriber, in automations).
BUILDER_FIELD_OPS = (
    ("equals", "is"),
    ("not_equals", "is not"),
    ("contains", "contains"),
    ("not_contains", "does not contain"),
    ("is_set", "is set"),
    ("is_blank", "is blank"),
)


def condition_parse(raw) -> dict | None:
    """A condition from the builder's hidden input (JSON text, a dict or nothing), checked by
    the tags compiler; raises ``forms.ValidationError`` saying what is wrong."""
    if raw in (None, "", "null", {}):
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(
                "The audience could not be read; build it again with the rules above."
            ) from None
    try:
        audience_condition_check(raw)
    except ValidationError as exc:
        raise forms.ValidationError(exc.messages) from None
    return raw


def builder_options() -> dict:
    """What the builder offers: every tag by name, custom field keys, states, field tests."""
    return {
        "tags": [{"id": pk, "name": name} for pk, name in audience_tag_choices()],
        "fields": list(CustomField.objects.order_by("key").values_list("key", flat=True)),
        "states": [{"value": v, "label": label} for v, label in SubscriberState.choices],
        "ops": [{"value": v, "label": label} for v, label in BUILDER_FIELD_OPS],
    }


class AudienceBuilderWidget(forms.Widget):
    """A hidden input holding the condition JSON, drawn as the visual builder by the script.
    ``count_url`` answers the live recipient count."""

    template_name = "admin/crm/audience_builder.html"

    def __init__(self, *, count_url: str = "", attrs=None):
        super().__init__(attrs)
        self.count_url = count_url

    def format_value(self, value):
        if value in (None, "", "null"):
            return ""
        return value if isinstance(value, str) else json.dumps(value)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["options"] = builder_options()
        context["widget"]["count_url"] = self.count_url
        context["widget"]["options_id"] = f"{attrs.get('id') or name}-options"
        return context

    def render(self, name, value, attrs=None, renderer=None):
        # The project's templates, not the form renderer's (which sees only apps' folders).
        context = self.get_context(name, value, self.build_attrs(self.attrs, attrs))
        return mark_safe(render_to_string(self.template_name, context))

    class Media:
        js = ["crm/audience_builder.js"]
        css = {"all": ["crm/audience_builder.css"]}


class AudienceField(forms.Field):
    """The broadcast's audience: cleaned to a condition the tags compiler accepts, or None
    (everyone who takes broadcasts)."""

    widget = AudienceBuilderWidget

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return value

    def to_python(self, value):
        return condition_parse(value)


def _describe(node, names: dict[int, str], states: dict[str, str]) -> str:
    ((op, arg),) = node.items()
    if op in ("has", "has_not"):
        verb = "has" if op == "has" else "does not have"
        return f"{verb} {names.get(arg, f'tag #{arg} (deleted)')}"
    if op == "state":
        return f"state is {states.get(arg, arg)}"
    if op == "field":
        label = dict(BUILDER_FIELD_OPS).get(arg["op"], arg["op"])
        value = f" {arg['value']!r}" if "value" in arg else ""
        return f"{arg['key']} {label}{value}"
    if op == "email":
        return f"{arg['activity']} an email in the last {arg['within_days']} days"
    if op == "not":
        return f"NOT ({_describe(arg, names, states)})"
    if op in ("and", "or"):
        parts = [_describe(child, names, states) for child in arg]
        return f" {op.upper()} ".join(f"({p})" if " AND " in p or " OR " in p else p for p in parts)
    return str(node)


def audience_describe(condition) -> str:
    """The audience in words, with tag names ("(has Gold OR has Silver) AND does not have
    Refunded"): what a sent broadcast's page shows instead of the JSON."""
    if not condition:
        return "Every active subscriber who takes broadcasts"
    names = dict(audience_tag_choices())
    return _describe(condition, names, dict(SubscriberState.choices))
