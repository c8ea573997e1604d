"""Kit imports and kept bulk jobs on the shared lease primitive: the reaper hands on a dead
worker's job in seconds, a stalled worker's late page or batch is refused and logged, and the
next holder resumes at the next page or batch."""

import io
import logging

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from apps.api import bulk, job_leases
from apps.api.kit_import import kit_import_create, kit_import_run, runs
from apps.api.models import BulkJob, KitImport, KitImportStatus
from apps.core import leases
from apps.tags.models import Tag
from tests.core.test_leases import DEAD, _heartbeat
from tests.core.test_outbox import _stopped, beat_past_the_lease, command_beats_with_a_short_lease

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    messages: list[tuple[int, int]] = []
    keep = lambda pk, token: messages.append((pk, token))  # noqa: E731
    monkeypatch.setattr(job_leases, "_kit_send", keep)
    monkeypatch.setattr(job_leases, "_bulk_send", keep)
    return messages


class TwoPagesOfTags:
    """Kit's API with two pages of tags and nothing else."""

    def page(self, path, after=None, params=None):
        if path != "tags":
            return {path: [], "pagination": {"has_next_page": False}}
        first = after is None
        tags = [{"id": n, "name": f"Kit {n}"} for n in ((1, 2) if first else (3, 4))]
        return {"tags": tags, "pagination": {"has_next_page": first, "end_cursor": "p2"}}


def test_a_dead_workers_kit_import_is_handed_on_and_sent_again_under_a_new_token(
    sent, django_capture_on_commit_callbacks
):
    imp = kit_import_create(api_key="kit_x", base_url="https://kit.example.com")
    job_leases.jobs_dispatch()
    ((pk, token),) = sent
    _heartbeat(DEAD, age_seconds=settings.WORKER_DEAD_AFTER_SECONDS + 5)
    KitImport.objects.filter(pk=pk).update(lease_holder=DEAD)

    with django_capture_on_commit_callbacks(execute=True):
        assert leases.leases_reap() == 1

    assert pk == imp.pk and len(sent) == 2 and sent[1][0] == pk and sent[1][1] != token
    assert KitImport.objects.get(pk=pk).status == KitImportStatus.RUNNING


def test_a_stalled_kit_import_run_writes_no_further_page_and_the_next_resumes_there(sent, caplog):
    # given: a worker's run, handed on after its first page of tags
    kit_import_create(api_key="kit_x", base_url="https://kit.example.com")
    job_leases.jobs_dispatch()
    ((pk, token),) = sent

    def hand_on_after_the_first_page(current):
        if current.stage == "tags" and Tag.objects.count() == 2:
            KitImport.objects.filter(pk=pk).update(lease_token=token + 1)

    # when
    with caplog.at_level(logging.WARNING, logger="apps.core.outbox"):
        late = kit_import_run(
            kit_import=KitImport.objects.get(pk=pk),
            client=TwoPagesOfTags(),
            token=token,
            progress=hand_on_after_the_first_page,
        )

    # then: the second page was refused and logged
    assert "lost the lease" in caplog.text
    assert Tag.objects.count() == 2 and late.status == KitImportStatus.RUNNING
    assert (late.stage, late.cursor) == ("tags", {"after": "p2"})
    # and the new holder resumes at the second page
    done = kit_import_run(kit_import=late, client=TwoPagesOfTags(), token=token + 1)
    assert done.status == KitImportStatus.DONE and Tag.objects.count() == 4
    assert done.counts["tags"] == {"seen": 4, "created": 4}
    assert (done.locked_until, done.api_key) == (None, "")


def test_a_stalled_bulk_run_writes_no_further_batch_and_the_next_resumes_there(
    sent, caplog, monkeypatch
):
    # given: a kept job of 250 tags, handed on during its first batch of 100
    bulk.bulk_job_create(
        kind="tags", items=[{"name": f"T{n}"} for n in range(250)], callback_url=""
    )
    job_leases.jobs_dispatch()
    ((pk, token),) = sent
    real_run = bulk.bulk_run

    def run_then_lose_the_lease(*, kind, items):
        BulkJob.objects.filter(pk=pk).update(lease_token=token + 1)
        return real_run(kind=kind, items=items)

    monkeypatch.setattr(bulk, "bulk_run", run_then_lose_the_lease)

    # when
    with caplog.at_level(logging.WARNING, logger="apps.core.outbox"):
        late = bulk.bulk_job_finish(job_id=pk, token=token)

    # then: the batch under way was its to finish; the next one was refused and logged
    assert "lost the lease" in caplog.text
    assert (late.batches_done, late.finished_at, Tag.objects.count()) == (1, None, 100)
    # and the new holder resumes at the second batch, each tag answered once
    monkeypatch.setattr(bulk, "bulk_run", real_run)
    done = bulk.bulk_job_finish(job_id=pk, token=token + 1)
    assert done.finished_at is not None and done.locked_until is None
    assert Tag.objects.count() == 250
    assert len(done.result["tags"]) == 250 and done.result["failures"] == []


def test_a_dead_workers_bulk_job_is_queued_again(sent, django_capture_on_commit_callbacks):
    BulkJob.objects.create(kind="tags", items=[{"name": "A"}])
    job_leases.jobs_dispatch()
    ((pk, token),) = sent
    _heartbeat(DEAD, age_seconds=settings.WORKER_DEAD_AFTER_SECONDS + 5)
    BulkJob.objects.filter(pk=pk).update(lease_holder=DEAD)

    with django_capture_on_commit_callbacks(execute=True):
        assert leases.leases_reap() == 1

    assert len(sent) == 2 and sent[1][0] == pk and sent[1][1] != token
    done = bulk.bulk_job_finish(job_id=pk, token=sent[1][1])
    assert done.finished_at is not None and Tag.objects.get().name == "A"


def test_the_kit_import_command_holds_its_import_as_a_worker_does_past_the_lease(
    monkeypatch, caplog, settings
):
    # given: heartbeats on, a short lease, and beat's clock moving past it between two pages
    command_beats_with_a_short_lease(monkeypatch, settings, job_leases.KIT_IMPORTS_LEASE_KIND)
    holders = []

    with time_machine.travel(timezone.now(), tick=False) as traveller:

        class BeatBetweenPages(TwoPagesOfTags):
            def page(self, path, after=None, params=None):
                if path == "tags" and after == "p2":
                    holders.append(leases.lease_holder())
                    pk = KitImport.objects.get().pk
                    beat_past_the_lease(traveller, job_leases.KIT_IMPORTS_LEASE_KIND, pk)
                return super().page(path, after, params)

        monkeypatch.setattr(runs, "KitClient", lambda **kwargs: BeatBetweenPages())

        # when
        with caplog.at_level(logging.WARNING, logger="apps.core.outbox"):
            call_command(
                "kit_import",
                "--api-key",
                "kit_x",
                "--base-url",
                "https://kit.example.com",
                stdout=io.StringIO(),
            )

    # then: its heartbeat kept the lease, so the command imported every page, and it stopped
    # beating when it was done
    imp = KitImport.objects.get()
    assert (imp.status, imp.lease_holder) == (KitImportStatus.DONE, "")
    assert Tag.objects.count() == 4 and "lost the lease" not in caplog.text
    (holder,) = holders
    assert _stopped(holder) and leases.lease_holder() == ""
