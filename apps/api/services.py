from django.db import transaction
from django.utils import timezone

from .models import ApiCredential, _token


def api_credentials_get() -> ApiCredential:
    """The account's credentials, created on first use. A plain read: every API request
    calls this, and a lock here would serialise them (on SQLite, behind the write lock)."""
    credential = ApiCredential.objects.order_by("pk").first()
    if credential is None:
        with transaction.atomic():
            credential = (
                ApiCredential.objects.select_for_update().order_by("pk").first()
                or ApiCredential.objects.create()
            )
    return credential


@transaction.atomic
def api_credentials_regenerate() -> ApiCredential:
    """New key and secret: every integration using the old ones stops working."""
    api_credentials_get()
    credential = ApiCredential.objects.select_for_update().order_by("pk").first()
    credential.api_key, credential.api_secret = _token(), _token()
    credential.rotated_at = timezone.now()
    credential.save(update_fields=["api_key", "api_secret", "rotated_at"])
    return credential
