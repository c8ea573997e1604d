"""How often one mailbox or address may ask for a login link or password reset."""

import logging

from django.db import transaction
from django.utils import timezone

from ..lock_objects import throttle_for_update
from ..logins import LOGIN_WINDOW

logger = logging.getLogger(__name__)

LINK_REQUESTS_PER_EMAIL = 5
LINK_REQUESTS_PER_ADDRESS = 20


@transaction.atomic
def email_request_record(*, purpose: str, email: str, address: str | None) -> bool:
    """Count one request for a login-link or password-reset email against the mailbox and the
    address; False when either has now asked more often than the window allows (a few each),
    so nobody can flood a member's inbox (the page answers the same either way)."""
    now = timezone.now()
    keys = [(f"{purpose}:email:{email.strip().lower()}", LINK_REQUESTS_PER_EMAIL)]
    if address:
        keys.append((f"{purpose}:address:{address}", LINK_REQUESTS_PER_ADDRESS))
    allowed = True
    for key, limit in keys:
        row = throttle_for_update(key=key, now=now)
        if row.window_started_at < now - LOGIN_WINDOW:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        row.save(update_fields=["failures", "window_started_at"])
        allowed = allowed and row.failures <= limit
    return allowed
