"""Which modules a member may open, from their tags."""

from dataclasses import dataclass
from datetime import datetime

from apps.tags.models import Tagging

from ..models import (
    AccessGrant,
    Module,
    Offering,
    ReleaseRule,
)
from .drip import _due_at


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
