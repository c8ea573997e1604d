"""The account's Kit credentials (v3 key and secret, v4 keys) and its profile."""

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..lock_objects import (
    account_profile_first_for_update,
    account_profile_for_update,
    cli_keys_live_for_update,
    credential_for_update,
)
from ..models import AccountProfile, ApiCredential, ApiKey, _token


def api_credentials_get() -> ApiCredential:
    """The account's credentials, created on first use. A plain read: every API request
    calls this, and a lock here would serialise them (on SQLite, behind the write lock)."""
    credential = ApiCredential.objects.order_by("pk").first()
    if credential is None:
        with transaction.atomic():
            credential = credential_for_update() or ApiCredential.objects.create()
    return credential


@transaction.atomic
def api_credentials_regenerate() -> ApiCredential:
    """New key and secret: every integration using the old ones stops working."""
    api_credentials_get()
    credential = credential_for_update()
    credential.api_key, credential.api_secret = _token(), _token()
    credential.rotated_at = timezone.now()
    credential.save(update_fields=["api_key", "api_secret", "rotated_at"])
    return credential


# Kit v4 API keys ---------------------------------------------------------------------------

API_KEY_PREFIX = "kit_"
CLI_KEY_NAME = "manage.py api_credentials"
# last_used_at is written at most this often per key: not one UPDATE per request at a launch.
LAST_USED_RESOLUTION_SECONDS = 60


def _key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _derived_key(salt: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), f"kit-v4-key:{salt}".encode(), "sha256")
    return API_KEY_PREFIX + digest.hexdigest()[:40]


@transaction.atomic
def api_key_create(*, name: str) -> tuple[ApiKey, str]:
    """A new v4 key named ``name``; returns it and the key itself, which is not stored (only
    its hash), so the caller must show it now."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("Give the key a name (which integration uses it).")
    raw = API_KEY_PREFIX + secrets.token_hex(20)
    key = ApiKey.objects.create(name=name[:100], prefix=raw[:8], key_hash=_key_hash(raw))
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Stop accepting the key at once (the row stays, so the admin shows what was revoked)."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_for_cli(*, regenerate: bool = False) -> str:
    """The v4 key ``manage.py api_credentials`` prints, made on first use (as the v3 ones
    are). It is re-derived from SECRET_KEY and a stored salt, so it can be printed again
    without being stored; ``regenerate`` revokes it and makes a new one."""
    with transaction.atomic():
        current = cli_keys_live_for_update().first()
        if current is not None and regenerate:
            api_key_revoke(key=current)
            current = None
        if current is None:
            salt = secrets.token_hex(16)
            raw = _derived_key(salt)
            ApiKey.objects.create(
                name=CLI_KEY_NAME, prefix=raw[:8], key_hash=_key_hash(raw), derived_salt=salt
            )
            return raw
    return _derived_key(current.derived_salt)


def api_key_authenticate(raw) -> ApiKey | None:
    """The live key whose hash matches, or None; notes when it was last used."""
    if not isinstance(raw, str) or not raw.startswith(API_KEY_PREFIX) or len(raw) > 200:
        return None
    key = ApiKey.objects.filter(key_hash=_key_hash(raw), revoked_at__isnull=True).first()
    if key is None:
        return None
    now = timezone.now()
    stale = now - timedelta(seconds=LAST_USED_RESOLUTION_SECONDS)
    if key.last_used_at is None or key.last_used_at < stale:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def account_profile_get() -> AccountProfile:
    """The account's one profile row, created on first use."""
    profile = AccountProfile.objects.order_by("pk").first()
    if profile is None:
        with transaction.atomic():
            profile = account_profile_first_for_update() or AccountProfile.objects.create()
    return profile


MAX_ACCOUNT_COLORS = 5
_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


@transaction.atomic
def account_profile_update(*, colors=None) -> AccountProfile:
    """Kit's account colours: up to five hex codes, replacing the old list."""
    profile = account_profile_get()
    profile = account_profile_for_update(profile.pk)
    if colors is not None:
        if not isinstance(colors, list) or not all(isinstance(c, str) for c in colors):
            raise ValidationError("colors must be a list of hex colour codes, e.g. #ff0000.")
        bad = [c for c in colors if not _HEX_COLOR.match(c)]
        if bad:
            raise ValidationError(f"Colors {', '.join(bad)} is not a valid hex color code.")
        if len(colors) > MAX_ACCOUNT_COLORS:
            raise ValidationError(f"At most {MAX_ACCOUNT_COLORS} colors.")
        profile.colors = colors
        profile.save(update_fields=["colors"])
    return profile
