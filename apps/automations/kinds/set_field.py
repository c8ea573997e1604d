"""Set custom field: write a value into one of the subscriber's custom fields."""

from apps.crm.services import subscriber_fields_set

from .base import DryOutcome, Field, NodeKind, Outcome, SettingsError
from .settings import field_key_setting, unknown_check

FIELD_VALUE_MAX = 10_000


class SetFieldKind(NodeKind):
    def clean(self, settings):
        unknown_check(settings, {"key", "value"})
        value = settings.get("value", "")
        if not isinstance(value, str | int | float) or len(str(value)) > FIELD_VALUE_MAX:
            raise SettingsError("value", "expected a text value")
        return {"key": field_key_setting(settings, "key"), "value": str(value)}

    def arrive(self, ctx):
        key, value = ctx.node.settings["key"], ctx.node.settings["value"]
        changed = subscriber_fields_set(subscriber=ctx.run.subscriber, values={key: value})
        return Outcome(detail=f"{key} set" if changed else f"{key} already had that value")

    def form_fields(self, settings, ctx):
        return [
            Field("key", "Custom field", "select", settings.get("key", ""), ctx["field_choices"]),
            Field("value", "Value", "text", settings.get("value", ""), required=False),
        ]

    def settings_from_form(self, data):
        return {"key": data.get("key", ""), "value": data.get("value", "")}

    def summary(self, settings, ctx):
        return f"Set {settings['key']} to {settings['value']!r}"

    def dry_run(self, settings, state):
        state.fields[settings["key"]] = settings["value"]
        return DryOutcome(f"would set {settings['key']} to {settings['value']!r}")

    def chain_links(self, settings, link):
        link["sets"].add(settings.get("key"))


KIND = SetFieldKind("set_field", "Set custom field")
