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
