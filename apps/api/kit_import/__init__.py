"""Moving in from Kit: pull a whole Kit account over its v4 API into Tessera.

Stages, in order: custom fields, tags, subscribers (states, names, fields), taggings (each
tag's subscribers), forms, sequences, broadcasts (as drafts), webhooks (listed in the summary,
not re-created: their targets belong to the old account's integrations). Each page of a stage
is written in one transaction together with the import's position (stage and cursor), so a
run killed anywhere resumes at the page it was on, and a page written twice changes nothing
the second time: records are matched by Kit id (custom fields, tags, forms, sequences,
broadcasts) or by email address (subscribers).

The admin page and ``manage.py kit_import`` share these verbs. Kit's sequence emails have no
API, so sequences arrive empty (the summary says so).
"""

from .client import KitClient, KitError
from .runs import (
    kit_import_create,
    kit_import_run,
    kit_import_summary,
    kit_import_unfinished,
)
from .stages import STAGES

__all__ = [
    "STAGES",
    "KitClient",
    "KitError",
    "kit_import_create",
    "kit_import_run",
    "kit_import_summary",
    "kit_import_unfinished",
]
