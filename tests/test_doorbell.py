"""Doorbells: one queued ring per kind, whatever the number of commits that ring."""

from django.core.cache import cache

from config import doorbell


class _Task:
    """A stand-in with a Celery task's name and delay(), counting what would be queued."""

    def __init__(self, name: str):
        self.name, self.queued = name, 0

    def delay(self):
        self.queued += 1


def test_many_rings_queue_one_task_until_it_starts():
    task = _Task("test.drain")

    for _ in range(50):
        doorbell.doorbell_ring(task)
    assert task.queued == 1

    doorbell.doorbell_answer(task.name)  # the task starts, before it reads any work
    doorbell.doorbell_ring(task)  # a commit after that start
    doorbell.doorbell_ring(task)
    assert task.queued == 2


def test_kinds_ring_separately_and_reset_forgets_queued_rings():
    dispatch, sweep = _Task("test.dispatch"), _Task("test.sweep")
    doorbell.doorbell_ring(dispatch)
    doorbell.doorbell_ring(sweep)
    assert (dispatch.queued, sweep.queued) == (1, 1)

    doorbell.doorbells_reset()  # e.g. the broker was purged: those messages are gone
    doorbell.doorbell_ring(dispatch)
    assert dispatch.queued == 2


def test_a_cache_that_fails_never_silences_the_bell(monkeypatch):
    task = _Task("test.cacheless")

    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "add", broken)
    doorbell.doorbell_ring(task)
    doorbell.doorbell_ring(task)

    assert task.queued == 2
