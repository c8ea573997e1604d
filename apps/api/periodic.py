"""The API's periodic tasks (apps/core/periodic.py finds this module)."""

from apps.core.periodic import PeriodicSpec


def periodic_specs() -> list[PeriodicSpec]:
    from .tasks import API_JOBS_RESUME_TASK

    return [
        PeriodicSpec(
            name="api: resume kept bulk requests and Kit imports that stopped moving",
            task=API_JOBS_RESUME_TASK,
            every_seconds=60,
        )
    ]
