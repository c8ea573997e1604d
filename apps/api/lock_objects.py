"""The one place apps/api builds its lock querysets (DESIGN.md: locks in ``lock_objects.py``).
Each is called inside the caller's transaction."""

from django.db.models import QuerySet

from .models import AccountProfile, ApiCredential, ApiKey


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
