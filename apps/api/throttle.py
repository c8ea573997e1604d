"""Kit's rate limit: N requests per rolling window per API key, answered with 429
(a sliding window in the shared cache: ``config/throttle.py``)."""

from django.conf import settings

from config.throttle import window_allow


def throttle_allow(key: str, *, limit: int | None = None) -> bool:
    return window_allow(
        f"v3:{key}",
        limit=limit or settings.KIT_API_RATE_LIMIT,
        window=settings.KIT_API_RATE_WINDOW_SECONDS,
    )


def retry_after_seconds() -> int:
    """Seconds a refused caller should wait (the 429's Retry-After): until the current
    window ends, when the full window it was counted against starts to slide out."""
    import time

    window = settings.KIT_API_RATE_WINDOW_SECONDS
    return max(1, int(window - time.time() % window) + 1)
