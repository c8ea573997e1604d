"""Event: wait until something happens to the subscriber (a tag, a purchase, access to a
lesson...), at most for a while if a timeout is set."""

from datetime import timedelta

from apps.crm.events import events_flush
from apps.crm.models import Event
from apps.tags.event_types import TAG_ADD

from ..matching import event_matches
from .base import DryOutcome, Field, NodeKind, Outcome, SettingsError
from .delay import DELAY_MAX_AMOUNT, DELAY_UNITS
from .event_spec import (
    STEP_ONLY,
    TAG_EVENTS,
    event_spec_clean,
    event_spec_split,
    place_text,
    place_value,
    trigger_settings_from_form,
)
from .settings import int_setting, unknown_check

ON_TIMEOUT = {"continue": "carry on with the next step", "exit": "exit the automation"}
TIMEOUT_UNITS = {k: v for k, v in DELAY_UNITS.items() if k != "minutes"}


def _timeout_clean(settings: dict) -> dict:
    """``{"timeout": {"amount": 3, "unit": "days"}, "on_timeout": "continue"}``: wait at most
    that long, then carry on (or exit), so a flow never strands anyone silently."""
    timeout = settings.get("timeout")
    if timeout in (None, "", {}):
        if settings.get("on_timeout") not in (None, ""):
            raise SettingsError("on_timeout", "set a timeout first (how long to wait at most)")
        return {}
    if not isinstance(timeout, dict):
        raise SettingsError("timeout", 'expected {"amount": N, "unit": "hours|days|weeks"}')
    unknown_check(timeout, {"amount", "unit"})
    try:
        amount = int_setting(timeout, "amount", maximum=DELAY_MAX_AMOUNT)
    except SettingsError as exc:
        raise SettingsError("timeout.amount", exc.message) from None
    unit = timeout.get("unit")
    if unit not in TIMEOUT_UNITS:
        raise SettingsError(
            "timeout.unit", f"must be one of {', '.join(TIMEOUT_UNITS)}, got {unit!r}"
        )
    on_timeout = settings.get("on_timeout") or "continue"
    if on_timeout not in ON_TIMEOUT:
        raise SettingsError("on_timeout", f"must be one of {', '.join(ON_TIMEOUT)}")
    return {"timeout": {"amount": amount, "unit": unit}, "on_timeout": on_timeout}


def event_timeout(settings: dict) -> timedelta | None:
    timeout = settings.get("timeout")
    if not timeout:
        return None
    return TIMEOUT_UNITS[timeout["unit"]] * timeout["amount"]


class EventKind(NodeKind):
    """Waits until the event happens; when it happens to someone earlier in the automation,
    they are pulled forward to it (the engine's goal consumer). An event that already happened
    during this run counts, so a run that arrives after the event (access was granted a
    moment before the run reached "wait for the release") does not wait for ever. With a
    timeout, a run that waited that long carries on (or exits) with a log line saying so."""

    def clean(self, settings):
        spec = {k: v for k, v in settings.items() if k not in STEP_ONLY}
        return {**event_spec_clean(spec), **_timeout_clean(settings)}

    def _happened(self, ctx) -> Event | None:
        event_type, tag_id, params = event_spec_split(ctx.node.settings)
        events_flush()  # this chunk's own events count too
        since = Event.objects.filter(
            subscriber_id=ctx.run.subscriber_id, type=event_type, pk__gt=ctx.run.event_watermark
        )
        for event in since.order_by("pk"):
            if event_matches(event_type=event_type, tag_id=tag_id, params=params, event=event):
                return event
        return None

    def arrive(self, ctx):
        event = self._happened(ctx)
        if event is not None:
            return Outcome(detail=f"event #{event.pk} had already happened during this run")
        timeout = event_timeout(ctx.node.settings)
        detail = f"waiting for {ctx.node.settings['event_type']}"
        if timeout is None:
            return Outcome(wait=True, detail=detail)
        limit = ctx.node.settings["timeout"]
        return Outcome(
            wait=True,
            resume_at=ctx.now + timeout,
            detail=f"{detail} (at most {limit['amount']} {limit['unit']})",
        )

    def resume(self, ctx):
        if self._happened(ctx) is not None:
            return Outcome(detail="event happened")
        timeout = event_timeout(ctx.node.settings)
        arrived = ctx.run.node_arrived_at or ctx.now
        if timeout is None or ctx.now < arrived + timeout:
            # Woken early (a settings edit, a hand retry) without the event: keep waiting.
            return Outcome(wait=True, resume_at=arrived + timeout if timeout else None, detail="")
        limit = ctx.node.settings["timeout"]
        said = f"timed out: the event did not happen within {limit['amount']} {limit['unit']}"
        if ctx.node.settings.get("on_timeout") == "exit":
            return Outcome(finish="exited", detail=f"{said}; exited")
        return Outcome(detail=f"{said}; carried on")

    def form_fields(self, settings, ctx):
        timeout = settings.get("timeout") or {}
        tag = ctx["tag_names"].get(settings.get("tag_id"), "")
        return [
            Field(
                "event_type",
                "Event",
                "select",
                settings.get("event_type", TAG_ADD),
                ctx["event_choices"],
            ),
            Field("tag", "Tag (tag events)", "tag", tag, required=False),
            Field(
                "place",
                "Only for (access, module and lesson events)",
                "select",
                place_value(settings),
                ctx["place_choices"],
                required=False,
            ),
            Field(
                "timeout_amount",
                "Wait at most (empty: as long as it takes)",
                "number",
                timeout.get("amount", ""),
                required=False,
            ),
            Field(
                "timeout_unit",
                "",
                "select",
                timeout.get("unit", "days"),
                [(u, u) for u in TIMEOUT_UNITS],
                required=False,
            ),
            Field(
                "on_timeout",
                "then",
                "select",
                settings.get("on_timeout", "continue"),
                list(ON_TIMEOUT.items()),
                required=False,
            ),
        ]

    def settings_from_form(self, data):
        settings = trigger_settings_from_form(data, tag_label="Tag")
        amount = (data.get("timeout_amount") or "").strip()
        if amount:
            settings["timeout"] = {"amount": amount, "unit": data.get("timeout_unit")}
            settings["on_timeout"] = data.get("on_timeout") or "continue"
        return settings

    def summary(self, settings, ctx):
        names = ctx["tag_names"]
        label = ctx["event_labels"].get(settings["event_type"], settings["event_type"])
        tag = f" {names.get(settings['tag_id'], '?')!r}" if settings.get("tag_id") else ""
        place = place_text(settings, ctx["place_names"])
        timeout = settings.get("timeout")
        limit = (
            f", at most {timeout['amount']} {timeout['unit']} then "
            f"{ON_TIMEOUT[settings.get('on_timeout', 'continue')]}"
            if timeout
            else ""
        )
        return f"Wait for: {label}{tag}{place}{limit}"

    def dry_run(self, settings, state):
        what = settings.get("event_type", "").replace("_", " ")
        return DryOutcome(f"would wait here for {what}", ending="waiting", waits=True)

    def tags_needed(self, settings):
        if settings.get("event_type") in TAG_EVENTS:
            return self.tags_used(settings)
        return set()

    def chain_links(self, settings, link):
        # A run waiting at an event step is pulled forward when it happens: an entry too.
        if settings.get("tag_id"):
            link["in_tags"].add(settings["tag_id"])
        if settings.get("field_key"):
            link["in_fields"].add(settings["field_key"])


KIND = EventKind("event", "Event", tag_settings=("tag_id",))
