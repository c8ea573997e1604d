"""Kit's rate limit: N requests per rolling window per API key, answered with 429.

A sliding-window counter in the shared cache (Redis in production): this window's count plus
the previous window's, weighted by how much of it still overlaps the last 60 seconds."""

import time

from django.conf import settings
from django.core.cache import cache


def throttle_allow(key: str, *, limit: int | None = None) -> bool:
    limit = limit or settings.KIT_API_RATE_LIMIT
    window = settings.KIT_API_RATE_WINDOW_SECONDS
    now = time.time()
    bucket = int(now // window)
    current_key, previous_key = f"v3rate:{key}:{bucket}", f"v3rate:{key}:{bucket - 1}"
    counts = cache.get_many([current_key, previous_key])
    overlap = (window - now % window) / window
    if counts.get(previous_key, 0) * overlap + counts.get(current_key, 0) >= limit:
        return False
    cache.add(current_key, 0, timeout=window * 2)
    cache.incr(current_key)
    return True
