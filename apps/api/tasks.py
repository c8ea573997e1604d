from celery import shared_task

BULK_JOB_RUN_TASK = "api.bulk_job_run"


@shared_task(name=BULK_JOB_RUN_TASK, acks_late=True, ignore_result=True)
def bulk_job_run(*, job_id: int) -> None:
    """A kept v4 bulk request (over 100 items): run it and owe the callback its answer."""
    from .bulk import bulk_job_finish

    bulk_job_finish(job_id=job_id)


KIT_IMPORT_RUN_TASK = "api.kit_import_run"


@shared_task(name=KIT_IMPORT_RUN_TASK, acks_late=True, ignore_result=True)
def kit_import_run(*, import_id: int) -> None:
    """An import started from the admin page (it resumes where a killed run stopped)."""
    from .kit_import import kit_import_run as run
    from .models import KitImport, KitImportStatus

    imp = KitImport.objects.filter(pk=import_id).exclude(status=KitImportStatus.DONE).first()
    if imp is not None:
        run(kit_import=imp)


API_JOBS_RESUME_TASK = "api.jobs_resume_stalled"


@shared_task(name=API_JOBS_RESUME_TASK, acks_late=True, ignore_result=True)
def jobs_resume_stalled() -> int:
    """Beat's sweep: kept bulk requests and Kit imports whose worker message was lost or
    whose worker died are handed out again (both resume where they were)."""
    from .bulk import bulk_jobs_resume_stalled
    from .kit_import import kit_imports_resume_stalled

    bulk = bulk_jobs_resume_stalled()
    for job_id in bulk:
        bulk_job_run.delay(job_id=job_id)
    imports = kit_imports_resume_stalled()
    for import_id in imports:
        kit_import_run.delay(import_id=import_id)
    return len(bulk) + len(imports)
