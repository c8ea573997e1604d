"""Delay: wait a while, or until the date in a custom field."""

from datetime import datetime, timedelta

from django.utils import timezone

from apps.crm.models import SubscriberFieldValue

from .base import DryOutcome, Field, NodeKind, Outcome, SettingsError, StepContext
from .settings import field_key_setting, int_setting, unknown_check

DELAY_UNITS = {
    "minutes": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    "days": timedelta(days=1),
    "weeks": timedelta(weeks=1),
}
DELAY_MAX_AMOUNT = 10_000


class DelayKind(NodeKind):
    def clean(self, settings):
        if "until_field" in settings:
            unknown_check(settings, {"until_field"})
            return {"until_field": field_key_setting(settings, "until_field")}
        unknown_check(settings, {"amount", "unit"})
        amount = int_setting(settings, "amount", minimum=0, maximum=DELAY_MAX_AMOUNT)
        unit = settings.get("unit")
        if unit not in DELAY_UNITS:
            raise SettingsError("unit", f"must be one of {', '.join(DELAY_UNITS)}, got {unit!r}")
        return {"amount": amount, "unit": unit}

    def _until(self, ctx: StepContext) -> tuple[datetime | None, str]:
        key = ctx.node.settings["until_field"]
        raw = (
            SubscriberFieldValue.objects.filter(subscriber_id=ctx.run.subscriber_id, field__key=key)
            .values_list("value", flat=True)
            .first()
        )
        if not raw:
            return None, f"{key} is empty; continued without waiting"
        try:
            parsed = datetime.fromisoformat(raw.strip())
        except ValueError:
            return None, f"{key} holds {raw!r}, not a date (yyyy-mm-dd [HH:MM]); continued"
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
        if parsed <= ctx.now:
            return None, f"{key} ({raw}) is in the past; continued"
        return parsed, f"waiting until {raw} ({key})"

    def arrive(self, ctx):
        settings = ctx.node.settings
        if "until_field" in settings:
            until, detail = self._until(ctx)
        else:
            delta = DELAY_UNITS[settings["unit"]] * settings["amount"]
            until = ctx.now + delta if delta else None
            detail = f"waiting {settings['amount']} {settings['unit']}"
        if until is None:
            return Outcome(detail=detail if "until_field" in settings else "no delay")
        return Outcome(wait=True, resume_at=until, detail=detail)

    def resume(self, ctx):
        return Outcome(detail="delay over")

    def form_fields(self, settings, ctx):
        return [
            Field("amount", "Wait", "number", settings.get("amount", 1)),
            Field(
                "unit", "", "select", settings.get("unit", "days"), [(u, u) for u in DELAY_UNITS]
            ),
            Field(
                "until_field",
                "or until the date in field",
                "text",
                settings.get("until_field", ""),
                required=False,
            ),
        ]

    def settings_from_form(self, data):
        if (data.get("until_field") or "").strip():
            return {"until_field": data["until_field"].strip()}
        return {"amount": (data.get("amount") or "").strip(), "unit": data.get("unit")}

    def summary(self, settings, ctx):
        if "until_field" in settings:
            return f"Wait until the date in {settings['until_field']}"
        return f"Wait {settings['amount']} {settings['unit']}"

    def dry_run(self, settings, state):
        if "until_field" in settings:
            key = settings["until_field"]
            value = state.fields.get(key) or ""
            return DryOutcome(
                f"would wait until {value} ({key}) here" if value else f"{key} is empty: no wait"
            )
        if not settings["amount"]:
            return DryOutcome("no delay")
        unit = settings["unit"] if settings["amount"] != 1 else settings["unit"].rstrip("s")
        return DryOutcome(f"would wait {settings['amount']} {unit} here")

    def chain_links(self, settings, link):
        if settings.get("until_field"):
            link["reads"].add(settings["until_field"])


KIND = DelayKind("delay", "Delay", skippable_wait=True)
