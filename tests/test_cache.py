"""The Redis cache keeps one client per connection pool (config/cache.py)."""

import pytest
from django.core.cache import caches

from config.cache import ReusingRedisCache


@pytest.mark.redis
def test_the_redis_cache_reuses_its_client_and_still_works():
    cache = caches["default"]
    assert isinstance(cache, ReusingRedisCache)

    first = cache._cache.get_client(write=True)
    cache.set("reuse:probe", 41)
    cache.incr("reuse:probe")

    assert cache._cache.get_client(write=True) is first
    assert cache.get("reuse:probe") == 42
    cache.delete("reuse:probe")


def test_a_cache_that_cannot_be_reached_lets_requests_through(monkeypatch, caplog):
    from config import throttle

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(throttle, "_redis_backend", down)

    assert throttle.window_allow("v3:addr:203.0.113.5", limit=1) is True
    assert "rate-limit cache unavailable; letting v3 through" in caplog.text
    assert "203.0.113.5" not in caplog.text
