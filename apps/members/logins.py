"""Password logins, members' and staff's alike: one lock for both.

``LOGIN_MAX_FAILURES`` wrong passwords lock an account, ``LOGIN_ADDRESS_MAX_FAILURES`` an
address, for ``LOGIN_LOCK``. An attempt is counted *before* the password is checked, under
the counters' row locks, and handed back when the password was right. Checking the lock,
then the password, then counting lets through every request that passed the check while the
others were still hashing (30 wrong passwords at once got 12 tries against a limit of 10);
counted first, they get exactly the limit.

The counters live in the database (``LoginThrottle``), so every web process shares them and
the lock holds across restarts.
"""

import logging
import math
from datetime import datetime, timedelta

from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from .lock_objects import throttle_for_update, throttle_if_any_for_update
from .models import LoginThrottle

logger = logging.getLogger(__name__)

LOGIN_MAX_FAILURES = 10
LOGIN_ADDRESS_MAX_FAILURES = 50
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_LOCK = timedelta(minutes=15)


class LoginLocked(Exception):
    """Too many failed attempts: nothing is checked until ``until``."""

    def __init__(self, until: datetime):
        super().__init__(f"locked until {until.isoformat()}")
        self.until = until

    @property
    def minutes(self) -> int:
        return max(1, math.ceil((self.until - timezone.now()).total_seconds() / 60))

    @property
    def message(self) -> str:
        return (
            f"Too many failed attempts: logging in is locked for {self.minutes} more "
            "minute(s). Try again then."
        )


def _account_key(username: str) -> str:
    return f"account:{(username or '').strip().lower()}"


def _keys(username: str, address: str | None) -> list[tuple[str, int]]:
    # Always the account first, then the address: one lock order, so two attempts never
    # wait on each other's rows.
    keys = [(_account_key(username), LOGIN_MAX_FAILURES)]
    if address:
        keys.append((f"address:{address}", LOGIN_ADDRESS_MAX_FAILURES))
    return keys


@transaction.atomic
def login_attempt_begin(*, username: str, address: str | None) -> None:
    """Count one attempt against the account and the address, or raise ``LoginLocked``
    (counting nothing) while either is locked."""
    now = timezone.now()
    rows = [
        (
            throttle_for_update(key=key, now=now),
            limit,
        )
        for key, limit in _keys(username, address)
    ]
    locked = [row.locked_until for row, _ in rows if row.locked_until and row.locked_until > now]
    if locked:
        raise LoginLocked(max(locked))
    for row, limit in rows:
        if row.window_started_at < now - LOGIN_WINDOW:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        if row.failures >= limit:
            row.locked_until = now + LOGIN_LOCK
            logger.warning("login locked for %s after %s attempts", row.key.split(":")[0], limit)
        row.save()


@transaction.atomic
def login_attempt_succeeded(*, username: str, address: str | None) -> None:
    """The password was right: the account starts afresh, and the address gets its attempt
    back (a lock this very attempt set is lifted with it)."""
    LoginThrottle.objects.filter(key=_account_key(username)).delete()
    if not address:
        return
    row = throttle_if_any_for_update(key=f"address:{address}")
    if row is not None and row.failures > 0:
        row.failures -= 1
        if row.failures < LOGIN_ADDRESS_MAX_FAILURES:
            row.locked_until = None
        row.save(update_fields=["failures", "locked_until"])


def login_authenticate(*, request, username: str, password: str, address: str | None):
    """The user whose password this is, or None; raises ``LoginLocked`` while the account or
    the address is locked (the password is not even checked then)."""
    login_attempt_begin(username=username, address=address)
    user = authenticate(request, username=username, password=password)
    if user is not None:
        login_attempt_succeeded(username=username, address=address)
    return user
