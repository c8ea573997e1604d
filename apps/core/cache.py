"""The shared caches: Django's Redis cache with one client per connection pool, and the
embedded default's file cache that every process on the machine shares.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every cache call,
and each build fills a table of about 80 response callbacks: a sixth of a millisecond of
Python, six times per API request (throttles, doorbells), on a launch's hottest path. A
client is thread-safe and holds no connection of its own (the pool does), so one per pool
is kept and reused.
"""

import fcntl
import os
import pickle
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _ReusingClient(RedisCacheClient):
    # Django's private members used below (the type stubs leave them out).
    _client: type
    _get_connection_pool: Callable[[bool], Any]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None or client.connection_pool is not pool:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient


class SharedFileCache(FileBasedCache):
    """The embedded default's cache (no ``REDIS_URL``): files under ``var/cache/``, which the
    web, worker and beat processes all see. A per-process memory cache broke the doorbells
    there: the web process set "a ring is queued" and the worker, which clears it, never saw
    it, so a second ring within the flag's lifetime was swallowed and its work waited for the
    two-minute sweep.

    Django's file cache reads and writes each key atomically but its ``add`` and ``incr`` are
    a read then a write; here both hold an exclusive ``flock`` on one lock file, as does
    ``atomic()`` for a caller's own read-modify-write (the throttle's sliding window), so two
    processes never both take the last place or both queue a ring.
    """

    LOCK_FILE = "lock"  # not a *.djcache file, so clear() and culling leave it alone

    # Django's private members used below (the type stubs leave them out).
    _dir: str
    _key_to_file: Callable[..., str]

    def __init__(self, dir, params):
        super().__init__(dir, params)
        self._held = threading.local()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Hold the lock for the block; nested use in one thread holds it once (a second
        ``flock`` on a new descriptor would wait for the first for ever)."""
        if getattr(self._held, "depth", 0):
            self._held.depth += 1
            try:
                yield
            finally:
                self._held.depth -= 1
            return
        os.makedirs(self._dir, exist_ok=True)
        with open(os.path.join(self._dir, self.LOCK_FILE), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            self._held.depth = 1
            try:
                yield
            finally:
                self._held.depth = 0
                fcntl.flock(handle, fcntl.LOCK_UN)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        with self.atomic():
            return super().add(key, value, timeout, version)

    def incr(self, key, delta=1, version=None):
        """Add ``delta`` keeping the key's expiry (Django's file cache rewrites it with the
        default timeout, so a one-hour rate window forgot its counts after five minutes)."""
        with self.atomic():
            try:
                with open(self._key_to_file(key, version), "rb") as handle:
                    expires = pickle.load(handle)
                    value = pickle.loads(zlib.decompress(handle.read()))
            except (FileNotFoundError, EOFError):
                expires, value = 0, None
            now = time.time()
            if value is None or (expires is not None and expires < now):
                raise ValueError(f"Key {key!r} not found.")
            value += delta
            self.set(key, value, None if expires is None else expires - now, version)
            return value
