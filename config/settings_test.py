"""Settings for the test suite: the same as production's, with test-only defaults filled in."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-any-real-site")

from .settings import *  # noqa: E402,F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Fast hashing for tests that create many users; production keeps Django's defaults.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Tests talk to HTTP servers they start on 127.0.0.1; the SSRF test turns this off again.
OUTBOUND_ALLOW_PRIVATE = True
# Workers started inside the test process (celery.contrib.testing) share it: no heartbeat
# thread there, and no holder on the test's claims. Worker processes the integration tests
# start run config.settings and beat as in production.
WORKER_HEARTBEATS = False
