from celery import shared_task

BULK_JOB_RUN_TASK = "api.bulk_job_run"


@shared_task(name=BULK_JOB_RUN_TASK, acks_late=True, ignore_result=True)
def bulk_job_run(*, job_id: int) -> None:
    """A kept v4 bulk request (over 100 items): run it and owe the callback its answer."""
    from .bulk import bulk_job_finish

    bulk_job_finish(job_id=job_id)
