"""The Redis cache keeps one client per connection pool (apps/core/cache.py)."""

import pytest
from django.core.cache import caches

from apps.core.cache import ReusingRedisCache


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
    from apps.core import throttle

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(throttle, "_redis_backend", down)

    assert throttle.window_allow("v3:addr:203.0.113.5", limit=1) is True
    assert "rate-limit cache unavailable; letting v3 through" in caplog.text
    assert "203.0.113.5" not in caplog.text


_COUNT_IN_ANOTHER_PROCESS = """
import sys
from apps.core.cache import SharedFileCache
cache = SharedFileCache(sys.argv[1], {})
for _ in range(int(sys.argv[2])):
    if not cache.add("hits", 1):
        cache.incr("hits")
"""


def test_the_embedded_file_cache_counts_exactly_across_processes(tmp_path):
    """Four processes count at once through add-or-incr; none of their hits is lost (Django's
    own file cache reads then writes, so two processes could both write the same count)."""
    import subprocess
    import sys

    from apps.core.cache import SharedFileCache
    from tests.processes import ROOT

    # given
    processes, hits_each = 4, 150
    # when
    counters = [
        subprocess.Popen(
            [sys.executable, "-c", _COUNT_IN_ANOTHER_PROCESS, str(tmp_path), str(hits_each)],
            cwd=ROOT,
        )
        for _ in range(processes)
    ]
    # then
    assert [counter.wait(timeout=120) for counter in counters] == [0] * processes
    assert SharedFileCache(str(tmp_path), {}).get("hits") == processes * hits_each


def test_without_redis_the_default_cache_is_the_shared_file_cache(tmp_path):
    # Read from a fresh process with REDIS_URL unset, so this runs where the suite has Redis too.
    from tests.test_project import _settings_probe

    result = _settings_probe(
        {"DEBUG": "1", "TESSERA_VAR_DIR": str(tmp_path)},
        "from django.core.cache import caches; c = caches['default']; "
        "print(type(c).__module__ + '.' + type(c).__name__, c._dir)",
    )
    assert result.returncode == 0, result.stderr
    backend, location = result.stdout.split()
    assert backend == "apps.core.cache.SharedFileCache"
    assert location.startswith(str(tmp_path))


def test_the_file_cache_lock_nests_within_one_thread(tmp_path):
    from apps.core.cache import SharedFileCache

    cache = SharedFileCache(str(tmp_path), {})
    with cache.atomic():
        assert cache.add("flag", 1)  # add takes the lock again: it must not wait on itself
        assert not cache.add("flag", 1)


def test_counting_in_the_file_cache_keeps_the_counters_lifetime(tmp_path):
    """A one-hour rate window must not forget its count when it is incremented."""
    import time_machine

    from apps.core.cache import SharedFileCache

    cache = SharedFileCache(str(tmp_path), {})
    with time_machine.travel(0, tick=False) as clock:
        cache.add("hits", 1, timeout=3600)
        clock.shift(60)
        assert cache.incr("hits") == 2
        clock.shift(3000)  # past Django's default 300 s, inside the hour
        assert cache.get("hits") == 2
        clock.shift(600)  # past the hour
        assert cache.get("hits") is None
        with pytest.raises(ValueError):
            cache.incr("hits")
