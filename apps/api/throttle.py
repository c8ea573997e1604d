"""Kit's rate limit: N requests per rolling window per credential, answered with 429 and a
``Retry-After`` saying when the oldest counted request leaves the window.

Per credential the window is exact: a log of the request times (a sorted set in Redis, read,
trimmed and added to in one Lua script), not the weighted two-bucket estimate of
``apps/core/throttle.py``, which let about 130 requests through in 40 seconds when a burst
straddled a minute boundary. At Kit's 120 (or 600 for OAuth) a minute the log stays small.
The per-address guard keeps the cheaper estimate (``window_allow``).
"""

import logging
import math
import secrets
import time

from django.conf import settings
from django.core.cache import cache

from apps.core.throttle import PREFIX, _redis_backend, window_allow

logger = logging.getLogger(__name__)

# KEYS: the log. ARGV: now, window, limit, a unique member. {1, ""} when counted, or
# {0, oldest time} when the window is full.
_SLIDING_LOG = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, oldest[2]}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1)
return {1, ''}
"""


def throttle_allow(key: str, *, limit: int | None = None) -> bool:
    """The estimate, for the per-address guard (every request, even unauthenticated)."""
    return window_allow(
        f"v3:{key}",
        limit=limit or settings.KIT_API_RATE_LIMIT,
        window=settings.KIT_API_RATE_WINDOW_SECONDS,
    )


def credential_allow(key: str, *, limit: int | None = None) -> tuple[bool, int]:
    """(allowed, seconds to wait) for one credential's exact rolling window. A cache that
    cannot be reached lets the request through with a warning, as ``window_allow`` does."""
    limit = limit or settings.KIT_API_RATE_LIMIT
    window = settings.KIT_API_RATE_WINDOW_SECONDS
    now = time.time()
    try:
        oldest = _log_add(f"{PREFIX}log:{key}", now=now, window=window, limit=limit)
    except Exception:
        logger.warning("rate-limit cache unavailable; letting a %s request through", "Kit API")
        return True, 0
    if oldest is None:
        return True, 0
    return False, max(1, math.ceil(oldest + window - now))


def _log_add(key: str, *, now: float, window: int, limit: int) -> float | None:
    """Count a request at ``now`` unless ``limit`` are logged in the last ``window`` seconds;
    None when counted, else the oldest logged time."""
    backend = _redis_backend()
    member = f"{now:.6f}:{secrets.token_hex(4)}"
    if backend is not None:
        redis_key = backend.make_and_validate_key(key)
        client = backend._cache.get_client(redis_key, write=True)
        allowed, oldest = client.eval(_SLIDING_LOG, 1, redis_key, now, window, limit, member)
        return None if allowed else float(oldest)
    times = [t for t in cache.get(key, []) if t > now - window]
    if len(times) >= limit:
        return min(times)
    cache.set(key, [*times, now], timeout=window + 1)
    return None


def window_retry_after() -> int:
    """Retry-After for the per-address estimate: until its current window ends."""
    window = settings.KIT_API_RATE_WINDOW_SECONDS
    return max(1, int(window - time.time() % window) + 1)
