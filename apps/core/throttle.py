"""Rolling-window limits in the shared cache: the Kit API's per-address and per-credential
limits and the inbound webhooks' per-URL and per-address limits.

Two ways of counting, one mechanism. ``window_allow`` estimates a sliding window: this
window's count plus the previous window's, weighted by how much of it still overlaps the
last ``window`` seconds; two counters per key, cheap enough for every request (even
unauthenticated ones). ``log_allow`` is exact: a log of the request times (a sorted set on
Redis, read, trimmed and added to in one Lua script), for a budget a client is promised (Kit's
120, or 600 for OAuth, a minute per credential), where the estimate let about 130 requests
through in 40 seconds when a burst straddled a minute boundary; its answer says when the
oldest counted request leaves the window (the 429's ``Retry-After``).

On Redis each read and count is one Lua script: one round trip (a launch pays these on
every request, and on a busy machine each round trip waits for a CPU) and no gap in which two
requests both take the last place. The embedded default's file cache takes the same steps
from Python under its cross-process lock.

A cache that cannot be reached lets the request through, with a warning: a limit is a guard,
and a buyer's purchase or a CRM's call must not fail because Redis is down (the doorbells
take the same view).
"""

import logging
import math
import secrets
import time
from contextlib import nullcontext

from django.core.cache import cache, caches

logger = logging.getLogger(__name__)

PREFIX = "throttle:"

# KEYS: this window's counter, the previous window's. ARGV: limit, overlap of the previous
# window (0..1), counter lifetime in seconds, 1 to count this hit. 1: under the limit.
_SLIDING_WINDOW = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * tonumber(ARGV[2]) + current >= tonumber(ARGV[1]) then
  return 0
end
if ARGV[4] == '1' then
  redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
end
return 1
"""


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


def _redis_backend():
    """Django's Redis cache backend, or None for any other cache."""
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]
    return backend if isinstance(backend, RedisCache) else None


def window_allow(key: str, *, limit: int, window: int = 60, count: bool = True) -> bool:
    """False when ``key`` has had ``limit`` hits in the last ``window`` seconds; otherwise
    True, and (with ``count``) this call is one more hit."""
    try:
        return _window_allow(key, limit=limit, window=window, count=count)
    except Exception:
        logger.warning("rate-limit cache unavailable; letting %s through", key.split(":")[0])
        return True


def _window_allow(key: str, *, limit: int, window: int, count: bool) -> bool:
    now = time.time()
    bucket = int(now // window)
    current_key = f"{PREFIX}{key}:{bucket}"
    previous_key = f"{PREFIX}{key}:{bucket - 1}"
    overlap = (window - now % window) / window
    backend = _redis_backend()
    if backend is not None:
        keys = [backend.make_and_validate_key(k) for k in (current_key, previous_key)]
        client = backend._cache.get_client(keys[0], write=True)
        allowed = client.eval(_SLIDING_WINDOW, 2, *keys, limit, overlap, window * 2, int(count))
        return bool(allowed)
    # The embedded default's file cache: the same read and count under its cross-process
    # lock, so two processes cannot both take the last place (apps/core/cache.py).
    atomic = getattr(cache, "atomic", nullcontext)
    with atomic():
        counts = cache.get_many([current_key, previous_key])
        if counts.get(previous_key, 0) * overlap + counts.get(current_key, 0) >= limit:
            return False
        if count and not cache.add(current_key, 1, timeout=window * 2):
            cache.incr(current_key)
    return True


def window_retry_after(*, window: int = 60) -> int:
    """Retry-After for a ``window_allow`` refusal: until the current window ends."""
    return max(1, int(window - time.time() % window) + 1)


def log_allow(key: str, *, limit: int, window: int = 60) -> tuple[bool, int]:
    """(allowed, seconds to wait): False when ``key`` has had ``limit`` requests in the last
    ``window`` seconds, with the wait until the oldest of them leaves it; otherwise True and
    this request is logged."""
    now = time.time()
    try:
        oldest = _log_add(f"{PREFIX}log:{key}", now=now, window=window, limit=limit)
    except Exception:
        logger.warning("rate-limit cache unavailable; letting %s through", key.split(":")[0])
        return True, 0
    if oldest is None:
        return True, 0
    return False, max(1, math.ceil(oldest + window - now))


def _log_add(key: str, *, now: float, window: int, limit: int) -> float | None:
    """Log a request at ``now`` unless ``limit`` are logged in the last ``window`` seconds;
    None when logged, else the oldest logged time."""
    backend = _redis_backend()
    member = f"{now:.6f}:{secrets.token_hex(4)}"
    if backend is not None:
        redis_key = backend.make_and_validate_key(key)
        client = backend._cache.get_client(redis_key, write=True)
        allowed, oldest = client.eval(_SLIDING_LOG, 1, redis_key, now, window, limit, member)
        return None if allowed else float(oldest)
    # The embedded default's file cache: under its cross-process lock, as ``window_allow``.
    with getattr(cache, "atomic", nullcontext)():
        times = [t for t in cache.get(key, []) if t > now - window]
        if len(times) >= limit:
            return min(times)
        cache.set(key, [*times, now], timeout=window + 1)
    return None


def window_hit(key: str, *, window: int = 60) -> None:
    """Count one hit on ``key`` without a limit (what ``window_allow(count=False)`` reads)."""
    window_allow(key, limit=2**62, window=window)


def throttles_reset() -> None:
    """Forget every counter (tests: a counter must not outlive the test that filled it)."""
    backend = _redis_backend()
    if backend is None:
        cache.clear()
        return
    pattern = backend.make_and_validate_key(f"{PREFIX}*")
    client = backend._cache.get_client(pattern, write=True)
    keys = list(client.scan_iter(match=pattern, count=1000))
    if keys:
        client.delete(*keys)
