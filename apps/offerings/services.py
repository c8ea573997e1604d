"""Offerings, access and the drip: the verbs. Tags are the permissions; grants and module
releases record when and why access was given, never recomputed later."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from apps.crm.events import event_record, events_record_bulk
from apps.crm.models import CustomField, Subscriber
from apps.crm.services import custom_field_create, custom_field_mark_sensitive
from apps.tags.models import Tag, Tagging
from apps.tags.services import tag_get_or_create, tag_memo, taggings_add, taggings_remove

from .content import lesson_html_clean
from .event_types import ACCESS_GRANTED, ACCESS_REVOKED, LESSON_COMPLETED, MODULE_RELEASED
from .lessons import lesson_save
from .lock_objects import grant_for_update, grants_drip_due
from .models import (
    AccessGrant,
    Lesson,
    LessonProgress,
    Module,
    ModuleRelease,
    Offering,
    ReleaseRule,
)

DRIP_BATCH_SIZE = 500
TAG_SEPARATOR = " – "


def _offering_tag(offering_name: str, suffix: str) -> Tag:
    return tag_get_or_create(name=f"{offering_name}{TAG_SEPARATOR}{suffix}")[0]


@transaction.atomic
def offering_create(
    *,
    name: str,
    kind: str = "stage_release",
    description: str = "",
    store_password: bool = False,
    password_field_key: str = "accessally_password",
    slug: str | None = None,
) -> Offering:
    """Create an offering and its tags by the naming convention."""
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("An offering needs a name.")
    slug = slugify(slug or name)
    if Offering.objects.filter(name__iexact=name).exists():
        raise ValidationError(f"An offering named {name!r} already exists.")
    if Offering.objects.filter(slug=slug).exists():
        raise ValidationError(f"The address /offerings/{slug}/ is taken; choose another slug.")
    if store_password:
        field = CustomField.objects.filter(key=password_field_key).first()
        if field is None:
            field = custom_field_create(label=password_field_key)
        if field.key != password_field_key:
            raise ValidationError(
                f"{password_field_key!r} is not a usable custom field key; use lower-case "
                "letters, digits and underscores."
            )
        custom_field_mark_sensitive(field=field)
    return Offering.objects.create(
        name=name,
        slug=slug,
        kind=kind,
        description=description,
        store_password=store_password,
        password_field_key=password_field_key,
        base_tag=_offering_tag(name, "Base Access"),
        instant_tag=_offering_tag(name, "Instant Access"),
        revoke_tag=_offering_tag(name, "Revoke Access"),
        purchase_tag=_offering_tag(name, "Purchase Success"),
    )


def _check_rule(rule: str, days: int, date: datetime | None) -> None:
    if rule not in ReleaseRule.values:
        raise ValidationError(f"Unknown release rule {rule!r}.")
    if rule == ReleaseRule.DAYS_AFTER and (days is None or days < 1):
        raise ValidationError("A module released N days after access needs N of at least 1.")
    if rule == ReleaseRule.ON_DATE and date is None:
        raise ValidationError("A module released on a date needs the date.")


@transaction.atomic
def module_add(
    *,
    offering: Offering,
    title: str,
    release_rule: str = ReleaseRule.IMMEDIATELY,
    release_days: int = 0,
    release_date: datetime | None = None,
) -> Module:
    _check_rule(release_rule, release_days, release_date)
    top = offering.modules.aggregate(top=Max("position"))["top"]
    position = (top or 0) + 1
    return Module.objects.create(
        offering=offering,
        position=position,
        title=title.strip(),
        release_rule=release_rule,
        release_days=release_days or 0,
        release_date=release_date,
        access_tag=_fresh_module_tag(offering, position),
    )


def _fresh_module_tag(offering: Offering, position: int) -> Tag:
    """The module's access tag by the naming convention, never one a deleted module left
    behind (members who held that one must not see the new module)."""
    name = f"{offering.name}{TAG_SEPARATOR}Module {position} Access"
    candidate, n = name, 2
    while True:
        tag, created = tag_get_or_create(name=candidate)
        if created or not (tag.taggings.exists() or Module.objects.filter(access_tag=tag).exists()):
            return tag
        candidate, n = f"{name} ({n})", n + 1


@transaction.atomic
def module_set_rule(
    *,
    module: Module,
    release_rule: str,
    release_days: int = 0,
    release_date=None,
    title: str | None = None,
) -> Module:
    """Change a module's title or when it opens. Members who have it keep it (releases are
    stored); for the others the next due time is recomputed."""
    _check_rule(release_rule, release_days, release_date)
    if title is not None and title.strip():
        module.title = title.strip()
    rule_changed = (module.release_rule, module.release_days, module.release_date) != (
        release_rule,
        release_days or 0,
        release_date,
    )
    module.release_rule, module.release_days = release_rule, release_days or 0
    module.release_date = release_date
    module.save(update_fields=["title", "release_rule", "release_days", "release_date"])
    if not rule_changed:
        return module
    grants = list(
        AccessGrant.objects.filter(offering=module.offering_id, revoked_at__isnull=True)
        .order_by("pk")
        .select_for_update()
    )
    grants_release_due(grants=grants, now=timezone.now(), source="rule changed")
    return module


def lesson_body_clean(body: str) -> str:
    """Lessons are HTML written by creators: content.py's allowlist keeps formatting, links and
    video embeds from known hosts, and drops scripts."""
    return lesson_html_clean(body).html


@transaction.atomic
def lesson_add(
    *,
    module: Module,
    title: str,
    body: str = "",
    completion_tag: str | None = None,
    video_url: str = "",
    slug: str = "",
) -> Lesson:
    lesson = Lesson(
        title=title,
        slug=slug,
        body=body,
        video_url=video_url,
        completion_tag=tag_get_or_create(name=completion_tag)[0] if completion_tag else None,
    )
    lesson_save(lesson=lesson, module=module)
    return lesson


# The drip -------------------------------------------------------------------------------------


def _due_at(module: Module, grant: AccessGrant) -> datetime | None:
    """When the module opens for this grant (None: only when its tag is added)."""
    if module.release_rule == ReleaseRule.IMMEDIATELY:
        return grant.granted_at
    if module.release_rule == ReleaseRule.DAYS_AFTER:
        return grant.granted_at + timedelta(days=module.release_days)
    if module.release_rule == ReleaseRule.ON_DATE:
        return module.release_date
    return None


def grants_release_due(*, grants: list[AccessGrant], now: datetime, source: str) -> int:
    """Release every module now due to these (locked, active) grants, once each: a release
    row, the module's tag and a ``module_released`` event; then set each grant's next due
    time. Set-based: a fixed number of queries per batch, whatever its size."""
    grants = [g for g in grants if g.revoked_at is None]
    if not grants:
        return 0
    # Someone who holds the revoke tag gets nothing more, even if their grant was not ended.
    revoke_tags = dict(
        Offering.objects.filter(pk__in={g.offering_id for g in grants}).values_list(
            "pk", "revoke_tag_id"
        )
    )
    held = set(
        Tagging.objects.filter(
            subscriber_id__in={g.subscriber_id for g in grants},
            tag_id__in=set(revoke_tags.values()),
        ).values_list("subscriber_id", "tag_id")
    )
    blocked = {g.pk for g in grants if (g.subscriber_id, revoke_tags[g.offering_id]) in held}
    modules: dict[int, list[Module]] = defaultdict(list)
    for module in Module.objects.filter(offering_id__in={g.offering_id for g in grants}):
        modules[module.offering_id].append(module)
    released = set(
        ModuleRelease.objects.filter(grant__in=grants).values_list("grant_id", "module_id")
    )
    new_releases, pairs, events = [], [], []
    for grant in grants:
        if grant.pk in blocked:
            grant.next_release_at = None
            continue
        upcoming = []
        for module in modules[grant.offering_id]:
            due = _due_at(module, grant)
            if due is None or (grant.pk, module.pk) in released:
                continue
            if due <= now:
                new_releases.append(
                    ModuleRelease(grant=grant, module=module, released_at=now, source=source)
                )
                pairs.append((grant.subscriber_id, module.access_tag_id))
                events.append(
                    (
                        grant.subscriber_id,
                        MODULE_RELEASED,
                        {
                            "offering_id": grant.offering_id,
                            "module_id": module.pk,
                            "source": source,
                        },
                    )
                )
            else:
                upcoming.append(due)
        grant.next_release_at = min(upcoming) if upcoming else None
    ModuleRelease.objects.bulk_create(new_releases, ignore_conflicts=True)
    AccessGrant.objects.bulk_update(grants, ["next_release_at"])
    if pairs:
        taggings_add(pairs=pairs, source=f"offering:{source}")
    events_record_bulk(events=events)
    return len(new_releases)


@transaction.atomic
def drip_sweep_batch(*, now=None, limit: int = DRIP_BATCH_SIZE) -> int:
    """Claim grants whose next module is due (SKIP LOCKED) and release it; return how many
    grants were claimed."""
    now = now or timezone.now()
    grants = list(grants_drip_due(now=now, limit=limit))
    grants_release_due(grants=grants, now=now, source="drip")
    return len(grants)


def drip_sweep(*, now=None, max_batches: int = 100) -> int:
    total = 0
    for _ in range(max_batches):
        claimed = drip_sweep_batch(now=now)
        total += claimed
        if claimed < DRIP_BATCH_SIZE:
            break
    return total


# Granting and revoking ----------------------------------------------------------------------


@transaction.atomic
def offering_grant(
    *,
    subscriber: Subscriber,
    offering: Offering,
    source: str,
    now=None,
    announce: bool = False,
    new_login: bool = False,
) -> AccessGrant:
    """Give access: the base tag, and every module due now, then the drip for the rest.

    Granting again after a revoke continues the drip from the first grant (modules that came
    due meanwhile open at once); it does not restart it. Granting an active grant again changes
    nothing, and records no ``access_granted`` unless ``announce``: a release always ends in
    that event (``already_active`` says it changed nothing), so a flow waiting for "access to
    this offering" moves on for a returning member as for a new one (``new_login``)."""
    now = now or timezone.now()
    grant = grant_for_update(subscriber_id=subscriber.pk, offering_id=offering.pk).first()
    changed = False
    if grant is None:
        try:
            with transaction.atomic():
                grant = AccessGrant.objects.create(
                    subscriber=subscriber, offering=offering, granted_at=now, source=source
                )
            changed = True
        except IntegrityError:
            grant = grant_for_update(subscriber_id=subscriber.pk, offering_id=offering.pk).get()
    if grant.revoked_at is not None:
        grant.revoked_at, changed = None, True
        grant.save(update_fields=["revoked_at"])
        taggings_remove(
            pairs=[(subscriber.pk, offering.revoke_tag_id)], source=f"offering:{source}"
        )
    taggings_add(pairs=[(subscriber.pk, offering.base_tag_id)], source=f"offering:{source}")
    grants_release_due(grants=[grant], now=now, source=source)
    if changed or announce:
        event_record(
            subscriber_id=subscriber.pk,
            type=ACCESS_GRANTED,
            payload={
                "offering_id": offering.pk,
                "source": source,
                "new_login": new_login,
                "already_active": not changed,
            },
        )
    return grant


@transaction.atomic
def offering_revoke(*, subscriber: Subscriber, offering: Offering, source: str) -> bool:
    """End access: the grant's end time and the revoke tag (which wins over every allow tag).
    The account, progress and release history stay."""
    ended = offering_end(subscriber=subscriber, offering=offering, source=source)
    taggings_add(pairs=[(subscriber.pk, offering.revoke_tag_id)], source=f"offering:{source}")
    return ended


def _revoke_tags() -> dict[int, list[int]]:
    """Revoke tag id -> the offerings it revokes (one small query: one row per offering)."""
    by_tag: dict[int, list[int]] = defaultdict(list)
    for offering_id, tag_id in Offering.objects.order_by().values_list("pk", "revoke_tag_id"):
        by_tag[tag_id].append(offering_id)
    return dict(by_tag)


def grants_end_on_revoke_tags(pairs: list[tuple[int, int]], source: str) -> int:
    """Tags are permissions: an offering's Revoke Access tag added by anyone (an admin, an
    automation, the API, an import) ends that member's active grant in the same transaction,
    so the dashboard, the pages and the API agree at once. Removing the tag again does not
    restore access; a new release (or Update User with an access tag) does, and the drip
    carries on from the first grant. When no revoke tag is among ``pairs``'s tags: one small
    query, once per engine chunk (``tag_memo``)."""
    revoke_tags = tag_memo("offerings.revoke_tags", _revoke_tags)
    by_tag = {t: revoke_tags[t] for _, t in pairs if t in revoke_tags}
    if not by_tag:
        return 0
    wanted = {(s, o) for s, t in pairs for o in by_tag.get(t, ())}
    grants = [
        g
        for g in AccessGrant.objects.filter(
            subscriber_id__in={s for s, _ in wanted},
            offering_id__in={o for _, o in wanted},
            revoked_at__isnull=True,
        )
        .order_by("pk")
        .select_for_update()
        if (g.subscriber_id, g.offering_id) in wanted
    ]
    now = timezone.now()
    for grant in grants:
        grant.revoked_at, grant.next_release_at = now, None
    AccessGrant.objects.bulk_update(grants, ["revoked_at", "next_release_at"])
    events_record_bulk(
        events=[
            (
                g.subscriber_id,
                ACCESS_REVOKED,
                {"offering_id": g.offering_id, "source": source, "by": "revoke tag"},
            )
            for g in grants
        ]
    )
    return len(grants)


@transaction.atomic
def offering_sync_from_tags(*, subscriber: Subscriber, offering: Offering, source: str) -> str:
    """AccessAlly's "Update User": read the subscriber's tags and grant, revoke or release to
    match. Returns what it did."""
    held = set(
        Tagging.objects.filter(
            subscriber=subscriber,
            tag_id__in=[
                offering.revoke_tag_id,
                offering.base_tag_id,
                offering.instant_tag_id,
                offering.purchase_tag_id,
            ],
        ).values_list("tag_id", flat=True)
    )
    if offering.revoke_tag_id in held:
        return (
            "revoked"
            if offering_revoke(subscriber=subscriber, offering=offering, source=source)
            else "already revoked"
        )
    if held:
        offering_grant(subscriber=subscriber, offering=offering, source=source)
        return "access granted or kept"
    if offering_end(subscriber=subscriber, offering=offering, source=source):
        return "no access tag any more: access ended"
    return "no access tags; nothing to do"


@transaction.atomic
def offering_end(*, subscriber: Subscriber, offering: Offering, source: str) -> bool:
    """End an active grant without adding the revoke tag: the subscriber's access tags are
    gone, so the tags already say "no access", and the drip must not hand any back."""
    grant = grant_for_update(subscriber_id=subscriber.pk, offering_id=offering.pk).first()
    if grant is None or grant.revoked_at is not None:
        return False
    grant.revoked_at, grant.next_release_at = timezone.now(), None
    grant.save(update_fields=["revoked_at", "next_release_at"])
    event_record(
        subscriber_id=subscriber.pk,
        type=ACCESS_REVOKED,
        payload={"offering_id": offering.pk, "source": source},
    )
    return True


def module_released_by_tag(*, pairs: Iterable[tuple[int, int]]) -> int:
    """Record releases for modules whose tag was added from outside (a CRM step, an admin):
    the "no schedule" rule. Only for members with an active grant."""
    pairs = list(pairs)
    modules = {
        m.access_tag_id: m for m in Module.objects.filter(access_tag_id__in={t for _, t in pairs})
    }
    wanted = [(s, modules[t]) for s, t in pairs if t in modules]
    if not wanted:
        return 0
    grants = {
        (g.subscriber_id, g.offering_id): g
        for g in AccessGrant.objects.filter(
            subscriber_id__in={s for s, _ in wanted},
            revoked_at__isnull=True,
            offering_id__in={m.offering_id for _, m in wanted},
        )
    }
    now = timezone.now()
    rows = [
        ModuleRelease(grant=grants[(s, m.offering_id)], module=m, released_at=now, source="tag")
        for s, m in wanted
        if (s, m.offering_id) in grants
    ]
    return len(ModuleRelease.objects.bulk_create(rows, ignore_conflicts=True))


# Lessons ------------------------------------------------------------------------------------


@transaction.atomic
def lesson_complete(*, subscriber: Subscriber, lesson: Lesson) -> bool:
    """Mark a lesson complete once: progress, the completion tag and the event. The tag is in
    the CRM the moment this commits (same database), so automations react at once."""
    progress, created = LessonProgress.objects.get_or_create(
        subscriber=subscriber, lesson=lesson, defaults={"completed_at": timezone.now()}
    )
    if not created:
        return False
    if lesson.completion_tag_id:
        taggings_add(
            pairs=[(subscriber.pk, lesson.completion_tag_id)], source=f"lesson:{lesson.pk}"
        )
    event_record(
        subscriber_id=subscriber.pk,
        type=LESSON_COMPLETED,
        payload={
            "lesson_id": lesson.pk,
            "module_id": lesson.module_id,
            "offering_id": lesson.module.offering_id,
        },
    )
    return True


# Access -------------------------------------------------------------------------------------


@dataclass
class ModuleAccess:
    module: Module
    open: bool
    unlocks_at: datetime | None
    reason: str


def offering_relevant_tags(offering: Offering, modules: list[Module]) -> set[int]:
    relevant = {offering.base_tag_id, offering.instant_tag_id, offering.revoke_tag_id}
    return relevant | {m.access_tag_id for m in modules}


def offering_access(
    *,
    subscriber_id: int | None,
    offering: Offering,
    modules: list[Module],
    grant: AccessGrant | None,
    held: set[int] | None = None,
) -> list[ModuleAccess]:
    """Which modules this member may open, from their tags (one query whatever the number of
    tags, none when ``held`` is given: a preview's chosen tags, or tags read in bulk): any
    allow tag (the module's, the base tag for the first module, the instant tag) and not the
    revoke tag. Locked modules say when they open."""
    if held is None:
        held = set(
            Tagging.objects.filter(
                subscriber_id=subscriber_id, tag_id__in=offering_relevant_tags(offering, modules)
            ).values_list("tag_id", flat=True)
        )
    result = []
    first = min((m.position for m in modules), default=None)
    for module in modules:
        if offering.revoke_tag_id in held:
            result.append(ModuleAccess(module, False, None, "revoked"))
            continue
        allowed = {module.access_tag_id, offering.instant_tag_id}
        if module.position == first:
            allowed.add(offering.base_tag_id)
        if held & allowed:
            result.append(ModuleAccess(module, True, None, "open"))
            continue
        unlocks = _due_at(module, grant) if grant is not None and grant.active else None
        reason = "not yet released" if grant is not None else "no access"
        if module.release_rule == ReleaseRule.TAG_ONLY:
            reason = "released by the course team"
        result.append(ModuleAccess(module, False, unlocks, reason))
    return result
