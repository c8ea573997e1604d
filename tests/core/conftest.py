import pytest

from apps.core import leases


@pytest.fixture(autouse=True)
def _broker_seen():
    """The reaper has seen the broker already: another test's ``cache.clear()`` (the API's
    throttle reset) flushes the Redis database the broker shares, which the next reap would
    take for lost messages and hand on every run of these tests."""
    leases.broker_lost_messages()
