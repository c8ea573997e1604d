import pytest

from apps.crm import dispatch


@pytest.fixture
def recording_consumer():
    """A consumer that records (consumer name, event id) once its batch commits.

    Recording on commit, not on call, is what makes "exactly once" observable: a delivery
    whose transaction rolls back leaves no record, just as its database effects leave none.
    """
    from django.db import transaction

    received: list[tuple[str, int]] = []
    names: list[str] = []

    def register(name: str, event_types=None):
        def handle(events):
            ids = [e.pk for e in events]
            transaction.on_commit(lambda: received.extend((name, i) for i in ids))

        dispatch.consumer_register(name=name, handle=handle, event_types=event_types)
        names.append(name)
        return received

    yield register
    for name in names:
        dispatch.consumer_unregister(name=name)


@pytest.fixture
def no_kick(monkeypatch):
    """Commit without ringing any worker (dispatcher, run sweep, deliveries), to stage a
    backlog as after a crash, or to drive the engine step by step."""
    from apps.core import oncommit

    monkeypatch.setattr(oncommit, "on_commit_once", lambda func: None)
