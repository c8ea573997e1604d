"""The leases of the API's long jobs: Kit account imports and kept bulk requests.

A queued job is handed to a worker under a lease by the dispatcher (beat's sweep, rung at
once when a job is kept or handed on); the worker's heartbeat renews it while it works, each
page or batch checks the token in its transaction (``apps/core/outbox.py``), and the reaper
(``apps/core/leases.py``) hands on the job of a dead or stalled worker in seconds, to resume
at its next page or batch. Neither job has an attempt counter: slowness never fails one.
"""

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db.models import Model, Q

from apps.core import oncommit
from apps.core.leases import LeaseKind, lease_kind_register
from apps.core.outbox import lease_dispatch

from .models import BulkJob, KitImport, KitImportStatus

JOB_LEASE = timedelta(seconds=settings.IMPORT_LEASE_SECONDS)
# Jobs of a kind running (or sent to a worker) at once; the rest wait queued in the database.
JOBS_RUNNING_MAX = 4

KIT_IMPORTS_LEASE_KIND = "kit_imports"
BULK_JOBS_LEASE_KIND = "bulk_jobs"
_KIT_LEASED = Q(status=KitImportStatus.RUNNING)
_KIT_QUEUED = Q(status=KitImportStatus.PENDING)
_BULK_LEASED = Q(finished_at__isnull=True, locked_until__isnull=False)
_BULK_QUEUED = Q(finished_at__isnull=True, locked_until__isnull=True)


def _kit_send(pk: int, token: int) -> None:
    from .tasks import kit_import_run

    kit_import_run.delay(import_id=pk, token=token)


def _bulk_send(pk: int, token: int) -> None:
    from .tasks import bulk_job_run

    bulk_job_run.delay(job_id=pk, token=token)


def jobs_dispatch() -> int:
    """Hand queued Kit imports and bulk jobs to workers, as many as there is room for."""
    kit_imports = KitImport.objects.filter(_KIT_QUEUED).order_by("pk")
    bulk_jobs = BulkJob.objects.filter(_BULK_QUEUED).order_by("pk")
    return lease_dispatch(
        KIT_IMPORTS_LEASE_KIND, kit_imports, running_max=JOBS_RUNNING_MAX, send=_kit_send
    ) + lease_dispatch(
        BULK_JOBS_LEASE_KIND, bulk_jobs, running_max=JOBS_RUNNING_MAX, send=_bulk_send
    )


def dispatch_kick() -> None:
    from .tasks import jobs_resume_stalled

    jobs_resume_stalled.delay()


def jobs_dispatch_on_commit() -> None:
    oncommit.on_commit_once(dispatch_kick)


def _freer(model: type[Model], **queued) -> Callable[[list[int], str, bool], int]:
    def free(ids: list[int], reason: str, counted: bool) -> int:
        """Queue handed-on jobs again (locked by the caller) and ring the dispatcher."""
        freed = model._default_manager.filter(pk__in=ids).update(
            locked_until=None, lease_holder="", **queued
        )
        jobs_dispatch_on_commit()
        return freed

    return free


lease_kind_register(
    LeaseKind(
        name=KIT_IMPORTS_LEASE_KIND,
        model=KitImport,
        leased=_KIT_LEASED,
        free=_freer(KitImport, status=KitImportStatus.PENDING),
        lease=JOB_LEASE,
        claimed={"status": KitImportStatus.RUNNING, "error": ""},
        waits_in_broker=True,
    )
)
lease_kind_register(
    LeaseKind(
        name=BULK_JOBS_LEASE_KIND,
        model=BulkJob,
        leased=_BULK_LEASED,
        free=_freer(BulkJob),
        lease=JOB_LEASE,
        waits_in_broker=True,
    )
)
