"""Starting, running, summing up and resuming an import (the admin page, ``manage.py
kit_import`` and beat's sweep share these verbs)."""

import urllib.error
import urllib.parse
import urllib.request

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.outbox import LeaseLost, lease_fence, lease_finish, lease_take_over

from ..job_leases import KIT_IMPORTS_LEASE_KIND
from ..models import KitImport, KitImportStatus
from .client import KitClient, KitError
from .stages import _STAGE_RUNNERS, STAGES, Progress, lease_check


@transaction.atomic
def kit_import_create(*, api_key: str, base_url: str = "https://api.kit.com") -> KitImport:
    """A new import, waiting: the admin page hands it to a worker, the command runs it."""
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
    *,
    kit_import: KitImport,
    progress: Progress | None = None,
    client=None,
    token: int | None = None,
) -> KitImport:
    """Run (or resume) the import to the end under its lease. ``token`` is the lease a
    worker was sent with the import; without one the caller (the command, a test) takes the
    import over (a stopped or unfinished one resumes). Kit refusing stops it as FAILED with
    the reason; running it again resumes where it stopped. A run whose lease was handed on
    (it stalled) stops at its next page, writing nothing."""
    if token is None:
        token = lease_take_over(
            KIT_IMPORTS_LEASE_KIND, kit_import.pk, unfinished=~Q(status=KitImportStatus.DONE)
        )
        if token is None:
            return KitImport.objects.get(pk=kit_import.pk)
    try:
        with transaction.atomic():
            imp = lease_fence(KIT_IMPORTS_LEASE_KIND, kit_import.pk, token)
        client = client or KitClient(base_url=imp.base_url, api_key=imp.api_key)
        _stages_run(imp, client, progress or (lambda _imp: None))
    except KitError as exc:
        lease_finish(
            KIT_IMPORTS_LEASE_KIND,
            kit_import.pk,
            token,
            status=KitImportStatus.FAILED,
            error=str(exc),
        )
    except LeaseLost:
        pass
    else:
        now = timezone.now()
        lease_finish(
            KIT_IMPORTS_LEASE_KIND,
            imp.pk,
            token,
            status=KitImportStatus.DONE,
            finished_at=now,
            api_key="",
            updated_at=now,
        )
    imp = KitImport.objects.get(pk=kit_import.pk)
    if progress and imp.status == KitImportStatus.DONE:
        progress(imp)
    return imp


def _stages_run(imp: KitImport, client, progress: Progress) -> None:
    start = STAGES.index(imp.stage) if imp.stage else 0
    for stage in STAGES[start:]:
        if imp.stage != stage:
            imp.stage, imp.cursor = stage, {}
            with transaction.atomic():
                lease_check(imp)
                imp.save(update_fields=["stage", "cursor", "updated_at"])
        _STAGE_RUNNERS[stage](imp, client, progress)


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
