"""Doorbells: one queued ring per kind, whatever the number of commits that ring."""

from django.core.cache import cache

from apps.core import doorbell


class _Task:
    """A stand-in with a Celery task's name and apply_async(), counting what would be queued
    and with which countdown."""

    def __init__(self, name: str):
        self.name, self.queued, self.countdowns = name, 0, []

    def apply_async(self, countdown=None):
        self.queued += 1
        self.countdowns.append(countdown)


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


def test_a_ring_waits_for_more_work_but_a_full_batch_carries_on_at_once(settings):
    settings.DOORBELL_DELAY_SECONDS = 0.5
    task = _Task("test.batched")

    doorbell.doorbell_ring(task)
    doorbell.doorbell_answer(task.name)
    doorbell.doorbell_ring(task, at_once=True)  # the task stopped at its bound: work left

    assert task.countdowns == [0.5, None]


def test_a_drain_that_stopped_at_its_bound_rings_again_at_once():
    task = _Task("test.drain_bound")
    doorbell.doorbell_ring(task)  # queued, waiting

    assert doorbell.doorbell_drain(task, lambda: (50, True)) == 50
    assert doorbell.doorbell_drain(task, lambda: (3, False)) == 3

    # the first ring, then one at once after the full batch; none after the short one
    assert task.countdowns[1:] == [None]
