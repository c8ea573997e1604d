"""Settings for the test suite: the same as production's, with test-only defaults filled in."""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-any-real-site")

# `make test` runs the suite in two processes (pytest-xdist, gw0 and gw1). pytest-django gives
# each its own test database; here each also gets a Redis database and a var/ directory of its
# own (file cache, filesystem broker, files), so one process's cache.clear(), queue purge or
# Redis flush never reaches the other's tests.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER:
    _number = int(_XDIST_WORKER.removeprefix("gw"))
    if os.environ.get("REDIS_URL"):
        _parts = urlsplit(os.environ["REDIS_URL"])
        _db = (int(_parts.path.strip("/") or 0) + 1 + _number) % 16
        os.environ["REDIS_URL"] = urlunsplit(_parts._replace(path=f"/{_db}"))
    _var = os.environ.get("TESSERA_VAR_DIR") or str(Path(__file__).resolve().parent.parent / "var")
    os.environ["TESSERA_VAR_DIR"] = str(Path(_var) / f"xdist-{_XDIST_WORKER}")

from .settings import *  # noqa: E402,F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Fast hashing for tests that create many users; production keeps Django's defaults.
# The generated-password hasher stays registered (apps/members/hashers.py asks for it by name).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "apps.members.hashers.GeneratedPasswordHasher",
]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Tests talk to HTTP servers they start on 127.0.0.1; the SSRF test turns this off again.
OUTBOUND_ALLOW_PRIVATE = True
# Workers started inside the test process (celery.contrib.testing) share it: no heartbeat
# thread there, and no holder on the test's claims. Worker processes the integration tests
# start run config.settings and beat as in production.
WORKER_HEARTBEATS = False
