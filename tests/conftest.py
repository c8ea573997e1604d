import os

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app

pytest_plugins = ["tests.fixtures"]

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def _service_missing(what: str) -> None:
    message = f"needs {what}"
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but this test {message}", pytrace=False)
    pytest.skip(message)


def redis_reachable() -> bool:
    if not settings.REDIS_URL:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.fixture(autouse=True)
def _require_services(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _service_missing("PostgreSQL: set DATABASE_URL=postgres://...")
    if request.node.get_closest_marker("redis") and not redis_reachable():
        _service_missing("Redis: set REDIS_URL=redis://... to a running server")


@pytest.fixture(autouse=True)
def _cache_counters_reset():
    """Doorbells and throttles start empty: a ring whose task a test never ran (a purged
    broker, a mocked kick) must not silence the next test's rings for the flag's lifetime,
    and one test's requests must not spend the next one's rate limit."""
    from apps.core.doorbell import doorbells_reset
    from apps.core.throttle import throttles_reset

    doorbells_reset()
    throttles_reset()


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    """Tasks run inline in tests unless a test starts a real worker (tests/integration)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def pytest_report_header(config):
    from django.db import connections

    db = connections["default"].settings_dict
    where = db["NAME"] if db["ENGINE"].endswith("sqlite3") else f"{db['HOST']}:{db['PORT']}"
    redis_state = "reachable" if redis_reachable() else "not reachable (its tests skip)"
    return [
        f"tessera: database {connections['default'].vendor} ({where}); "
        f"redis {settings.REDIS_URL or '(unset)'} {redis_state}; "
        f"REQUIRE_SERVICES={'1' if REQUIRE_SERVICES else '0'}"
    ]
