"""Offerings, access and the drip: the verbs, by sub-domain: catalog (offerings, modules and
lessons), grants (granting and revoking access), drip (releasing modules), progress (lessons
completed) and access (which modules a member may open). Tags are the permissions; grants and
module releases record when and why access was given, never recomputed later. The public
verbs are re-exported here."""

from .access import ModuleAccess, offering_access, offering_relevant_tags
from .catalog import (
    TAG_SEPARATOR,
    lesson_add,
    lesson_body_clean,
    lessons_edit,
    module_add,
    module_set_rule,
    modules_edit,
    offering_create,
    offering_update,
)
from .drip import (
    DRIP_BATCH_SIZE,
    drip_sweep,
    drip_sweep_batch,
    grants_release_due,
    module_released_by_tag,
)
from .grants import (
    grants_end_on_revoke_tags,
    offering_end,
    offering_grant,
    offering_revoke,
    offering_sync_from_tags,
)
from .progress import lesson_complete

__all__ = [
    "DRIP_BATCH_SIZE",
    "TAG_SEPARATOR",
    "ModuleAccess",
    "drip_sweep",
    "drip_sweep_batch",
    "grants_end_on_revoke_tags",
    "grants_release_due",
    "lesson_add",
    "lesson_body_clean",
    "lesson_complete",
    "lessons_edit",
    "module_add",
    "module_released_by_tag",
    "module_set_rule",
    "modules_edit",
    "offering_access",
    "offering_create",
    "offering_end",
    "offering_grant",
    "offering_relevant_tags",
    "offering_revoke",
    "offering_sync_from_tags",
    "offering_update",
]
