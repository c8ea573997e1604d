"""The API's periodic tasks (apps/core/periodic.py finds this module)."""

from django.conf import settings

from apps.core.periodic import PeriodicSpec


def periodic_specs() -> list[PeriodicSpec]:
    from .tasks import API_JOBS_RESUME_TASK

    return [
        PeriodicSpec(
            # The name is beat's key for the row; the sweep now hands queued jobs (new or
            # handed on by the reaper) to workers.
            name="api: resume kept bulk requests and Kit imports that stopped moving",
            task=API_JOBS_RESUME_TASK,
            every_seconds=settings.IMPORT_SWEEP_SECONDS,
        )
    ]
