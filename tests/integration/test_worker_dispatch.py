"""A real Celery worker, on the real broker, dispatching events with nobody calling it."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction

from apps.crm.models import Event
from apps.tags.event_types import TAG_ADD
from apps.tags.services import subscriber_tag_add
from config.celery import app as celery_app
from tests.factories import SubscriberFactory, TagFactory

WORKER_WAIT_SECONDS = 30


@pytest.fixture
def real_worker():
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    try:
        with start_worker(
            celery_app,
            pool="solo",
            perform_ping_check=False,
            loglevel="WARNING",
            shutdown_timeout=30,
        ) as worker:
            yield worker
    finally:
        celery_app.conf.task_always_eager = True


def _wait_for(predicate) -> bool:
    """Poll the database while the worker works (no fixed sleep stands in for a delay)."""
    deadline = time.monotonic() + WORKER_WAIT_SECONDS
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_committed_tag_add_is_dispatched_by_the_worker(real_worker, recording_consumer):
    # given
    received = recording_consumer("tag_watcher", event_types=[TAG_ADD])
    subscriber, tag = SubscriberFactory(), TagFactory(name="Course Complete")

    # when: a committed transaction adds the tag, and nothing else is called
    with transaction.atomic():
        subscriber_tag_add(subscriber=subscriber, tag=tag, source="test")
    event = Event.objects.get(type=TAG_ADD)

    # then
    assert _wait_for(
        lambda: Event.objects.filter(pk=event.pk, dispatched_at__isnull=False).exists()
    )
    assert _wait_for(lambda: received == [("tag_watcher", event.pk)])


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_leaves_nothing_to_dispatch(real_worker, recording_consumer):
    received = recording_consumer("tag_watcher", event_types=[TAG_ADD])
    subscriber, tag = SubscriberFactory(), TagFactory()

    with pytest.raises(RuntimeError), transaction.atomic():
        subscriber_tag_add(subscriber=subscriber, tag=tag, source="test")
        raise RuntimeError("changed my mind")

    assert not Event.objects.exists()
    # A later, committed add is still dispatched: the worker is alive and nothing leaked.
    with transaction.atomic():
        subscriber_tag_add(subscriber=subscriber, tag=tag, source="test")
    assert _wait_for(lambda: len(received) == 1)
