"""Starting, running, summing up and resuming an import (the admin page, ``manage.py
kit_import`` and beat's sweep share these verbs)."""

import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..lock_objects import kit_imports_stalled_claim
from ..models import KitImport, KitImportStatus
from .client import KitClient, KitError
from .stages import _STAGE_RUNNERS, STAGES, Progress


@transaction.atomic
def kit_import_create(*, api_key: str, base_url: str = "https://api.kit.com") -> KitImport:
    api_key = (api_key or "").strip()
    if not api_key:
        raise ValidationError("Give the Kit account's v4 API key (Settings > Developer in Kit).")
    parts = urllib.parse.urlsplit(base_url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"The base URL must be an http(s) URL, got {base_url!r}.")
    return KitImport.objects.create(api_key=api_key, base_url=base_url.rstrip("/"))


def kit_import_unfinished(*, base_url: str) -> KitImport | None:
    """The last import from ``base_url`` that did not finish (the one to resume)."""
    return (
        KitImport.objects.filter(base_url=base_url.rstrip("/"))
        .exclude(status=KitImportStatus.DONE)
        .order_by("-pk")
        .first()
    )


def kit_import_run(
    *, kit_import: KitImport, progress: Progress | None = None, client=None
) -> KitImport:
    """Run (or resume) the import to the end. Kit refusing stops it as FAILED with the
    reason; running it again resumes where it stopped."""
    imp = kit_import
    client = client or KitClient(base_url=imp.base_url, api_key=imp.api_key)
    KitImport.objects.filter(pk=imp.pk).update(status=KitImportStatus.RUNNING, error="")
    imp.refresh_from_db()
    try:
        start = STAGES.index(imp.stage) if imp.stage else 0
        for stage in STAGES[start:]:
            if imp.stage != stage:
                imp.stage, imp.cursor = stage, {}
                imp.save(update_fields=["stage", "cursor", "updated_at"])
            _STAGE_RUNNERS[stage](imp, client, progress or (lambda _imp: None))
    except KitError as exc:
        KitImport.objects.filter(pk=imp.pk).update(status=KitImportStatus.FAILED, error=str(exc))
        imp.refresh_from_db()
        return imp
    imp.status, imp.finished_at, imp.api_key = KitImportStatus.DONE, timezone.now(), ""
    imp.save(update_fields=["status", "finished_at", "api_key", "updated_at"])
    if progress:
        progress(imp)
    return imp


def kit_import_summary(imp: KitImport) -> list[str]:
    """The lines the page and the terminal show: per stage what was created, updated,
    unchanged and refused; then the webhooks to re-create by hand."""
    lines = []
    for stage in STAGES:
        c = imp.counts.get(stage, {})
        if not c:
            continue
        total = f" of {imp.totals[stage]}" if stage in imp.totals else ""
        lines.append(
            f"{stage.replace('_', ' ')}: {c.get('seen', 0)}{total} read, "
            f"{c.get('created', 0)} new, {c.get('updated', 0)} updated, "
            f"{c.get('unchanged', 0)} unchanged, "
            f"{c.get('failed', 0)} not imported"
        )
    if imp.counts.get("sequences"):
        lines.append("Sequence emails are not in Kit's API: write them here.")
    for hook in imp.webhooks:
        lines.append(f"webhook (not re-created): {hook['event']} -> {hook['target_url']}")
    return lines


# An import started from the admin page that has not moved for this long (its message lost,
# its worker killed) is handed to a worker again; a page of 1,000 takes far less.
KIT_IMPORT_STALLED_AFTER = timedelta(minutes=10)


@transaction.atomic
def kit_imports_resume_stalled(*, now=None) -> list[int]:
    """The ids of unfinished imports to hand to a worker again (beat's sweep). A stopped one
    (Kit refused) waits for someone to start it again; a running or waiting one resumes.
    Claimed with SKIP LOCKED, so two sweeps at once hand out different imports."""
    now = now or timezone.now()
    stalled = kit_imports_stalled_claim(before=now - KIT_IMPORT_STALLED_AFTER, limit=5)
    KitImport.objects.filter(pk__in=stalled).update(updated_at=now)
    return stalled
