from django.db import transaction
from django.utils import timezone

from .models import ApiCredential, _token


@transaction.atomic
def api_credentials_get() -> ApiCredential:
    """The account's credentials, created on first use."""
    credential = ApiCredential.objects.select_for_update().order_by("pk").first()
    return credential or ApiCredential.objects.create()


@transaction.atomic
def api_credentials_regenerate() -> ApiCredential:
    """New key and secret: every integration using the old ones stops working."""
    credential = api_credentials_get()
    credential.api_key, credential.api_secret = _token(), _token()
    credential.rotated_at = timezone.now()
    credential.save(update_fields=["api_key", "api_secret", "rotated_at"])
    return credential
