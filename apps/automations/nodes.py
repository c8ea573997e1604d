"""The built-in step kinds (Kit's actions, conditions and events)."""

import json
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.utils import timezone

from apps.crm.delivery import webhook_delivery_enqueue
from apps.crm.event_types import event_type_get, event_type_is_known, event_types_all
from apps.crm.events import events_flush
from apps.crm.liquid import (
    TemplateError,
    json_template_render,
    subscriber_liquid_context,
    template_check,
)
from apps.crm.models import CustomField, Event, SubscriberFieldValue
from apps.crm.payloads import subscriber_kit_payload
from apps.crm.services import subscriber_fields_set
from apps.tags.conditions import (
    ConditionError,
    condition_field_keys,
    condition_tag_ids,
    condition_validate,
    subscriber_condition_evaluate,
)
from apps.tags.event_types import TAG_ADD, TAG_REMOVE
from apps.tags.models import Tag
from apps.tags.services import taggings_add, taggings_remove

from .facts import offering_facts_by_id
from .kinds import NodeKind, Outcome, SettingsError, StepContext, StepError, kind_register
from .matching import event_matches

DELAY_UNITS = {
    "minutes": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    "days": timedelta(days=1),
    "weeks": timedelta(weeks=1),
}
DELAY_MAX_AMOUNT = 10_000
WEBHOOK_URL_MAX = 2000
FIELD_VALUE_MAX = 10_000
TAG_EVENTS = (TAG_ADD, TAG_REMOVE)


def _int_setting(settings: dict, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    value = settings.get(name)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(name, f"expected a whole number, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f" and at most {maximum}" if maximum is not None else ""
        raise SettingsError(name, f"must be at least {minimum}{bound}")
    return value


def _tag_setting(settings: dict, name: str = "tag_id") -> int:
    tag_id = _int_setting(settings, name)
    if not Tag.objects.filter(pk=tag_id).exists():
        raise SettingsError(name, f"no tag has id {tag_id}")
    return tag_id


def _field_key_setting(settings: dict, name: str) -> str:
    key = settings.get(name)
    if not isinstance(key, str) or not key.strip():
        raise SettingsError(name, "expected a custom field key")
    if not CustomField.objects.filter(key=key.strip()).exists():
        raise SettingsError(name, f"no custom field has the key {key.strip()!r}")
    return key.strip()


def _automation_setting(settings: dict, name: str = "automation_id") -> int:
    from .models import Automation

    automation_id = _int_setting(settings, name)
    if not Automation.objects.filter(pk=automation_id).exists():
        raise SettingsError(name, f"no automation has id {automation_id}")
    return automation_id


def _unknown(settings: dict, allowed: set[str]) -> None:
    extra = sorted(set(settings) - allowed)
    if extra:
        raise SettingsError(extra[0], f"unknown setting; expected {', '.join(sorted(allowed))}")


def _source(ctx: StepContext) -> str:
    return f"automation:{ctx.automation.pk}"


class DelayKind(NodeKind):
    def clean(self, settings):
        if "until_field" in settings:
            _unknown(settings, {"until_field"})
            return {"until_field": _field_key_setting(settings, "until_field")}
        _unknown(settings, {"amount", "unit"})
        amount = _int_setting(settings, "amount", minimum=0, maximum=DELAY_MAX_AMOUNT)
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


class TagKind(NodeKind):
    adding: bool = True

    def clean(self, settings):
        _unknown(settings, {"tag_id"})
        return {"tag_id": _tag_setting(settings)}

    def arrive(self, ctx):
        pair = [(ctx.run.subscriber_id, ctx.node.settings["tag_id"])]
        if self.adding:
            changed = taggings_add(pairs=pair, source=_source(ctx))
            return Outcome(detail="tag added" if changed else "already had the tag")
        changed = taggings_remove(pairs=pair, source=_source(ctx))
        return Outcome(detail="tag removed" if changed else "did not have the tag")


class RemoveTagKind(TagKind):
    adding: bool = False


class ConditionKind(NodeKind):
    def clean(self, settings):
        _unknown(settings, {"condition"})
        condition = settings.get("condition")
        try:
            condition_validate(condition)
        except ConditionError as exc:
            raise SettingsError("condition", str(exc)) from None
        tag_ids = condition_tag_ids(condition)
        known = set(Tag.objects.filter(pk__in=tag_ids).values_list("pk", flat=True))
        if tag_ids - known:
            raise SettingsError("condition", f"no tag has id {min(tag_ids - known)}")
        keys = condition_field_keys(condition)
        known_keys = set(CustomField.objects.filter(key__in=keys).values_list("key", flat=True))
        if keys - known_keys:
            raise SettingsError(
                "condition", f"no custom field has the key {min(keys - known_keys)!r}"
            )
        return {"condition": condition}

    def arrive(self, ctx):
        matched = subscriber_condition_evaluate(
            subscriber_id=ctx.run.subscriber_id, condition=ctx.node.settings["condition"]
        )
        return Outcome(
            branch="yes" if matched else "no",
            detail="condition met" if matched else "condition not met",
        )


# Filters that name an offering, module or lesson (checked against the offerings the apps
# above register; automations never import them).
_PLACE_FILTERS = ("offering_id", "module_id", "lesson_id")
_SPEC_KEYS = {"event_type", "tag_id", "field_key", "value", "form_id", "product_id", "sequence_id"}
# Email events narrow by the link clicked or the broadcast it was in (issue 17).
_SPEC_KEYS |= {"url", "broadcast_id"}
_SPEC_KEYS |= set(_PLACE_FILTERS)
# The event step's own settings, beside its event spec.
_STEP_ONLY = ("timeout", "on_timeout")
ON_TIMEOUT = {"continue": "carry on with the next step", "exit": "exit the automation"}
TIMEOUT_UNITS = {k: v for k, v in DELAY_UNITS.items() if k != "minutes"}


def _place_filters_check(cleaned: dict) -> None:
    """An offering, module or lesson filter names one that exists, and they agree."""
    wanted = {name: cleaned[name] for name in _PLACE_FILTERS if name in cleaned}
    if not wanted:
        return
    offerings = offering_facts_by_id()
    modules = {m.id: (o, m) for o in offerings.values() for m in o.modules}
    lessons = {
        lesson_id: (o, m)
        for o in offerings.values()
        for m in o.modules
        for lesson_id, _ in m.lessons
    }
    if "offering_id" in wanted and wanted["offering_id"] not in offerings:
        raise SettingsError("offering_id", f"no offering has id {wanted['offering_id']}")
    if "module_id" in wanted:
        found = modules.get(wanted["module_id"])
        if found is None:
            raise SettingsError("module_id", f"no module has id {wanted['module_id']}")
        if wanted.get("offering_id", found[0].id) != found[0].id:
            raise SettingsError(
                "module_id", f"module {found[1].title!r} belongs to {found[0].name!r}"
            )
    if "lesson_id" in wanted:
        found = lessons.get(wanted["lesson_id"])
        if found is None:
            raise SettingsError("lesson_id", f"no lesson has id {wanted['lesson_id']}")
        if (
            wanted.get("module_id", found[1].id) != found[1].id
            or wanted.get("offering_id", found[0].id) != found[0].id
        ):
            raise SettingsError(
                "lesson_id", f"that lesson is in {found[0].name!r}, module {found[1].title!r}"
            )


def event_spec_clean(settings: dict) -> dict:
    """Validate an event spec (event steps and triggers share it). Besides a tag (tag events)
    an event narrows by the filters its type registers (``offering_id`` for access granted,
    ``module_id``, ``lesson_id``...); empty filters are dropped."""
    _unknown(settings, _SPEC_KEYS)
    event_type = settings.get("event_type")
    if not isinstance(event_type, str) or not event_type_is_known(event_type):
        known = ", ".join(t.key for t in event_types_all())
        raise SettingsError("event_type", f"unknown event {event_type!r}; known events: {known}")
    cleaned: dict = {"event_type": event_type}
    if event_type in TAG_EVENTS:
        cleaned["tag_id"] = _tag_setting(settings)
    elif settings.get("tag_id") not in (None, ""):
        raise SettingsError("tag_id", f"only tag events take a tag, not {event_type!r}")
    if settings.get("field_key"):
        cleaned["field_key"] = _field_key_setting(settings, "field_key")
    filters = event_type_get(event_type).filters
    for name in (
        "value",
        "form_id",
        "product_id",
        "sequence_id",
        "url",
        "broadcast_id",
        *_PLACE_FILTERS,
    ):
        if settings.get(name) in (None, ""):
            continue
        if name in _PLACE_FILTERS:
            if name not in filters:
                takes = f"; it takes {', '.join(filters)}" if filters else ""
                raise SettingsError(name, f"{event_type!r} cannot be narrowed by {name}{takes}")
            cleaned[name] = _int_setting(settings, name)
        else:
            cleaned[name] = settings[name]
    _place_filters_check(cleaned)
    return cleaned


def event_spec_split(settings: dict) -> tuple[str, int | None, dict]:
    params = {k: v for k, v in settings.items() if k not in ("event_type", "tag_id", *_STEP_ONLY)}
    return settings["event_type"], settings.get("tag_id"), params


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
    _unknown(timeout, {"amount", "unit"})
    try:
        amount = _int_setting(timeout, "amount", maximum=DELAY_MAX_AMOUNT)
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
        spec = {k: v for k, v in settings.items() if k not in _STEP_ONLY}
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


class WebhookKind(NodeKind):
    """POSTs a Liquid-rendered body (default: Kit's ``{"subscriber": {...}}``) through the
    delivery outbox: recorded in this step's transaction, sent after commit, retried."""

    def clean(self, settings):
        _unknown(settings, {"url", "payload"})
        url = settings.get("url")
        if not isinstance(url, str) or len(url) > WEBHOOK_URL_MAX:
            raise SettingsError("url", "expected an http(s) URL")
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError("url", f"expected an http(s) URL, got {url!r}")
        payload = settings.get("payload") or ""
        if not isinstance(payload, str):
            raise SettingsError("payload", "expected a Liquid template (text)")
        try:
            template_check(payload)
        except TemplateError as exc:
            raise SettingsError("payload", str(exc)) from None
        return {"url": url.strip(), "payload": payload}

    def arrive(self, ctx):
        subscriber = ctx.run.subscriber
        template = ctx.node.settings.get("payload")
        if template:
            # What leaves the site: sensitive fields redacted, every value JSON-escaped.
            context = subscriber_liquid_context(subscriber, redact_sensitive=True)
            try:
                body = json_template_render(template, context)
            except TemplateError as exc:
                raise StepError(f"webhook payload: {exc}") from None
        else:
            body = json.dumps({"subscriber": subscriber_kit_payload(subscriber)})
        delivery = webhook_delivery_enqueue(
            key=f"run:{ctx.run.pk}:node:{ctx.node.pk}",
            url=ctx.node.settings["url"],
            body=body,
            headers={"webhook-id": f"run_{ctx.run.pk}_node_{ctx.node.pk}"},
        )
        return Outcome(detail=f"webhook delivery #{delivery.pk} queued")


class SetFieldKind(NodeKind):
    def clean(self, settings):
        _unknown(settings, {"key", "value"})
        value = settings.get("value", "")
        if not isinstance(value, str | int | float) or len(str(value)) > FIELD_VALUE_MAX:
            raise SettingsError("value", "expected a text value")
        return {"key": _field_key_setting(settings, "key"), "value": str(value)}

    def arrive(self, ctx):
        key, value = ctx.node.settings["key"], ctx.node.settings["value"]
        changed = subscriber_fields_set(subscriber=ctx.run.subscriber, values={key: value})
        return Outcome(detail=f"{key} set" if changed else f"{key} already had that value")


class StartAutomationKind(NodeKind):
    def clean(self, settings):
        _unknown(settings, {"automation_id"})
        return {"automation_id": _automation_setting(settings)}

    def arrive(self, ctx):
        from .engine import runs_start
        from .models import Automation

        target = Automation.objects.get(pk=ctx.node.settings["automation_id"])
        started = runs_start(
            automation=target,
            subscriber_ids=[ctx.run.subscriber_id],
            chain_depth=ctx.run.chain_depth + 1,
        )
        return Outcome(
            detail=f"started {target.name!r}"
            if started
            else f"did not start {target.name!r} (status or re-entry rule)"
        )


class RemoveFromAutomationKind(NodeKind):
    def clean(self, settings):
        _unknown(settings, {"automation_id"})
        return {"automation_id": _automation_setting(settings)}

    def arrive(self, ctx):
        from .engine import runs_exit

        exited = runs_exit(
            subscriber_ids=[ctx.run.subscriber_id],
            automation_id=ctx.node.settings["automation_id"],
            reason=f"removed by {ctx.automation.name!r}",
        )
        return Outcome(
            detail="removed from the other automation"
            if exited
            else "was not in the other automation"
        )


class ExitKind(NodeKind):
    def arrive(self, ctx):
        return Outcome(finish="exited", detail="exited this automation")


class EndKind(NodeKind):
    def arrive(self, ctx):
        return Outcome(finish="completed", detail="end of automation")


def register() -> None:
    for kind in (
        DelayKind("delay", "Delay"),
        TagKind("add_tag", "Add tag", tag_settings=("tag_id",)),
        RemoveTagKind("remove_tag", "Remove tag", tag_settings=("tag_id",)),
        ConditionKind("condition", "Condition", has_branches=True),
        EventKind("event", "Event", tag_settings=("tag_id",)),
        WebhookKind("webhook", "Webhook"),
        SetFieldKind("set_field", "Set custom field"),
        StartAutomationKind(
            "start_automation", "Start another automation", automation_settings=("automation_id",)
        ),
        RemoveFromAutomationKind(
            "remove_from_automation",
            "Remove from another automation",
            automation_settings=("automation_id",),
        ),
        ExitKind("exit", "Exit this automation"),
        EndKind("end", "End"),
    ):
        kind_register(kind)
