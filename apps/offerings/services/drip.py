"""The drip: releasing modules when they come due, or when their tag is added."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.core.outbox import drain_until_short
from apps.crm.events import events_record_bulk
from apps.tags.models import Tagging
from apps.tags.services import taggings_add

from ..event_types import MODULE_RELEASED
from ..lock_objects import (
    grants_drip_due,
)
from ..models import (
    AccessGrant,
    Module,
    ModuleRelease,
    Offering,
    ReleaseRule,
)

DRIP_BATCH_SIZE = 500


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
    return drain_until_short(
        lambda limit: drip_sweep_batch(now=now, limit=limit),
        size=DRIP_BATCH_SIZE,
        max_batches=max_batches,
    )[0]


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
