"""The one place apps/api builds its lock querysets (DESIGN.md: locks in ``lock_objects.py``).
Each is called inside the caller's transaction."""

from datetime import datetime

from django.db.models import Q, QuerySet

from .models import (
    AccountProfile,
    ApiCredential,
    ApiKey,
    BulkJob,
    KitImport,
    KitImportStatus,
)


def credential_for_update() -> ApiCredential | None:
    """The account's credentials row, locked (None before the first is made)."""
    return ApiCredential.objects.select_for_update().order_by("pk").first()


def cli_keys_live_for_update() -> QuerySet[ApiKey]:
    """The live keys ``manage.py api_credentials`` derived, oldest first, locked."""
    return (
        ApiKey.objects.select_for_update()
        .filter(revoked_at__isnull=True)
        .exclude(derived_salt="")
        .order_by("pk")
    )


def account_profile_first_for_update() -> AccountProfile | None:
    """The account's profile row, locked (None before the first is made)."""
    return AccountProfile.objects.select_for_update().order_by("pk").first()


def account_profile_for_update(pk: int) -> AccountProfile:
    return AccountProfile.objects.select_for_update().get(pk=pk)


def kit_imports_stalled_claim(*, before: datetime, limit: int) -> list[int]:
    """Unfinished imports that have not moved since ``before``, oldest first, locked; rows
    another sweep holds are skipped, so two sweeps never hand out the same import."""
    return list(
        KitImport.objects.filter(
            status__in=[KitImportStatus.PENDING, KitImportStatus.RUNNING], updated_at__lt=before
        )
        .order_by("pk")
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)[:limit]
    )


def bulk_jobs_stalled_claim(
    *, unclaimed_before: datetime, started_before: datetime, limit: int
) -> list[int]:
    """Kept jobs never started since ``unclaimed_before`` or started before
    ``started_before`` and not finished, oldest first, locked; rows another sweep holds are
    skipped."""
    return list(
        BulkJob.objects.filter(finished_at__isnull=True)
        .filter(
            Q(started_at__isnull=True, created_at__lt=unclaimed_before)
            | Q(started_at__lt=started_before)
        )
        .order_by("pk")
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)[:limit]
    )
