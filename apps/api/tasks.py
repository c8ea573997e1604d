from celery import shared_task

BULK_JOB_RUN_TASK = "api.bulk_job_run"


@shared_task(name=BULK_JOB_RUN_TASK, acks_late=True, ignore_result=True)
def bulk_job_run(*, job_id: int, token: int | None = None) -> None:
    """A kept v4 bulk request (over 100 items) the dispatcher leased: run it (resuming at
    its next batch) and owe the callback its answer."""
    from .bulk import bulk_job_finish
    from .job_leases import BULK_JOBS_LEASE_KIND

    _adopt(BULK_JOBS_LEASE_KIND, job_id, token)
    bulk_job_finish(job_id=job_id, token=token)


KIT_IMPORT_RUN_TASK = "api.kit_import_run"


@shared_task(name=KIT_IMPORT_RUN_TASK, acks_late=True, ignore_result=True)
def kit_import_run(*, import_id: int, token: int | None = None) -> None:
    """An import the dispatcher leased (it resumes at the page where a run stopped)."""
    from .job_leases import KIT_IMPORTS_LEASE_KIND
    from .kit_import import kit_import_run as run
    from .models import KitImport

    _adopt(KIT_IMPORTS_LEASE_KIND, import_id, token)
    imp = KitImport.objects.filter(pk=import_id).first()
    if imp is not None:
        run(kit_import=imp, token=token)


def _adopt(kind: str, pk: int, token: int | None) -> None:
    """This worker holds the job now: if it dies, the reaper hands it on in seconds."""
    from apps.core.leases import leases_adopt

    if token is not None:
        leases_adopt(kind, [(pk, token)])


API_JOBS_RESUME_TASK = "api.jobs_resume_stalled"


@shared_task(name=API_JOBS_RESUME_TASK, acks_late=True, ignore_result=True)
def jobs_resume_stalled() -> int:
    """Beat's sweep, also rung when a job is kept or handed on: queued Kit imports and bulk
    requests (new, or handed on by the reaper) go to workers."""
    from .job_leases import jobs_dispatch

    return jobs_dispatch()
