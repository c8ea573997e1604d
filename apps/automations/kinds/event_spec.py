"""The event spec that event steps and entry triggers share: which event, which tag, which
offering, module or lesson; its validation, its form and its wording."""

from apps.crm.event_types import event_type_get, event_type_is_known, event_types_all
from apps.tags.event_types import TAG_ADD, TAG_REMOVE

from ..facts import offering_facts_all, offering_facts_by_id
from .base import SettingsError
from .settings import field_key_setting, int_setting, tag_id_from, tag_setting, unknown_check

TAG_EVENTS = (TAG_ADD, TAG_REMOVE)
# Filters that name an offering, module or lesson (checked against the offerings the apps
# above register; automations never import them).
PLACE_FILTERS = ("offering_id", "module_id", "lesson_id")
_SPEC_KEYS = {"event_type", "tag_id", "field_key", "value", "form_id", "product_id", "sequence_id"}
# Email events narrow by the link clicked or the broadcast it was in (issue 17).
_SPEC_KEYS |= {"url", "broadcast_id"}
_SPEC_KEYS |= set(PLACE_FILTERS)
# The event step's own settings, beside its event spec.
STEP_ONLY = ("timeout", "on_timeout")
_PASSED_AS_IS = ("value", "form_id", "product_id", "sequence_id", "url", "broadcast_id")


def _module_check(wanted: dict, modules: dict) -> None:
    found = modules.get(wanted["module_id"])
    if found is None:
        raise SettingsError("module_id", f"no module has id {wanted['module_id']}")
    if wanted.get("offering_id", found[0].id) != found[0].id:
        raise SettingsError("module_id", f"module {found[1].title!r} belongs to {found[0].name!r}")


def _lesson_check(wanted: dict, lessons: dict) -> None:
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


def _place_filters_check(cleaned: dict) -> None:
    """An offering, module or lesson filter names one that exists, and they agree."""
    wanted = {name: cleaned[name] for name in PLACE_FILTERS if name in cleaned}
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
        _module_check(wanted, modules)
    if "lesson_id" in wanted:
        _lesson_check(wanted, lessons)


def _filters_clean(settings: dict, event_type: str, cleaned: dict) -> None:
    filters = event_type_get(event_type).filters
    for name in (*_PASSED_AS_IS, *PLACE_FILTERS):
        if settings.get(name) in (None, ""):
            continue
        if name in PLACE_FILTERS:
            if name not in filters:
                takes = f"; it takes {', '.join(filters)}" if filters else ""
                raise SettingsError(name, f"{event_type!r} cannot be narrowed by {name}{takes}")
            cleaned[name] = int_setting(settings, name)
        else:
            cleaned[name] = settings[name]


def event_spec_clean(settings: dict) -> dict:
    """Validate an event spec (event steps and triggers share it). Besides a tag (tag events)
    an event narrows by the filters its type registers (``offering_id`` for access granted,
    ``module_id``, ``lesson_id``...); empty filters are dropped."""
    unknown_check(settings, _SPEC_KEYS)
    event_type = settings.get("event_type")
    if not isinstance(event_type, str) or not event_type_is_known(event_type):
        known = ", ".join(t.key for t in event_types_all())
        raise SettingsError("event_type", f"unknown event {event_type!r}; known events: {known}")
    cleaned: dict = {"event_type": event_type}
    if event_type in TAG_EVENTS:
        cleaned["tag_id"] = tag_setting(settings)
    elif settings.get("tag_id") not in (None, ""):
        raise SettingsError("tag_id", f"only tag events take a tag, not {event_type!r}")
    if settings.get("field_key"):
        cleaned["field_key"] = field_key_setting(settings, "field_key")
    _filters_clean(settings, event_type, cleaned)
    _place_filters_check(cleaned)
    return cleaned


def event_spec_split(settings: dict) -> tuple[str, int | None, dict]:
    params = {k: v for k, v in settings.items() if k not in ("event_type", "tag_id", *STEP_ONLY)}
    return settings["event_type"], settings.get("tag_id"), params


# Forms and wording ----------------------------------------------------------------------------


def trigger_settings_from_form(data, *, tag_label: str = "Entry tag") -> dict:
    """An entry event (or an event step's event): its type, its tag for tag events, the
    offering / module / lesson it is narrowed to, and a product id for purchases."""
    settings = {"event_type": data.get("event_type")}
    if settings["event_type"] in TAG_EVENTS:
        settings["tag_id"] = tag_id_from(data.get("tag"), tag_label)
    settings.update(_place_from(data.get("place")))
    product = (data.get("product_id") or "").strip()
    if product:
        settings["product_id"] = product
    return settings


def _place_from(value) -> dict:
    """The "Only for" select: "offering:3", "module:3:7" or "lesson:3:7:12" (ids)."""
    level, _, ids = (value or "").partition(":")
    parts = ids.split(":") if ids else []
    names = {"offering": 1, "module": 2, "lesson": 3}
    if level not in names or len(parts) != names[level] or not all(p.isdigit() for p in parts):
        return {}
    keys = PLACE_FILTERS[: names[level]]
    return dict(zip(keys, map(int, parts), strict=True))


def place_value(settings: dict) -> str:
    ids = [settings.get(k) for k in PLACE_FILTERS]
    ids = [str(i) for i in ids if i]
    if not ids:
        return ""
    return f"{('offering', 'module', 'lesson')[len(ids) - 1]}:{':'.join(ids)}"


def place_choices() -> list[tuple[str, str]]:
    """Every offering, module and lesson, for the "Only for" select (one read of the facts)."""
    choices = [("", "any offering")]
    for offering in offering_facts_all():
        choices.append((f"offering:{offering.id}", offering.name))
        for module in offering.modules:
            here = f"{offering.id}:{module.id}"
            choices.append((f"module:{here}", f"{offering.name} › {module.title}"))
            choices += [
                (f"lesson:{here}:{lesson_id}", f"{offering.name} › {module.title} › {title}")
                for lesson_id, title in module.lessons
            ]
    return choices


def place_text(settings: dict, choices: dict[str, str]) -> str:
    value = place_value(settings)
    text = f" for {choices.get(value, value)}" if value else ""
    if settings.get("product_id"):
        text += f" (product {settings['product_id']})"
    return text
