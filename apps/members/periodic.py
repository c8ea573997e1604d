"""The members' periodic tasks (apps/core/periodic.py finds this module)."""

from django.conf import settings

from apps.core.periodic import PeriodicSpec


def periodic_specs() -> list[PeriodicSpec]:
    from .tasks import CALLS_RESUME_TASK

    return [
        PeriodicSpec(
            name="members: run webhook calls left unprocessed",
            task=CALLS_RESUME_TASK,
            every_seconds=settings.CALL_SWEEP_SECONDS,
        )
    ]
