"""The CRM's periodic tasks (apps/core/periodic.py finds this module)."""

from django.conf import settings

from apps.core.periodic import PeriodicSpec


def periodic_specs() -> list[PeriodicSpec]:
    from .tasks import (
        BROADCASTS_SEND_TASK,
        DELIVERIES_SEND_TASK,
        EMAILS_HELD_RECHECK_TASK,
        EMAILS_SEND_TASK,
        EVENTS_DISPATCH_TASK,
        SEQUENCES_SEND_TASK,
        SUBSCRIBER_IMPORTS_RESUME_TASK,
    )

    return [
        PeriodicSpec(
            name="crm: dispatch pending events (recovery sweep)",
            task=EVENTS_DISPATCH_TASK,
            every_seconds=settings.EVENT_SWEEP_SECONDS,
        ),
        PeriodicSpec(
            name="crm: send due webhook deliveries",
            task=DELIVERIES_SEND_TASK,
            every_seconds=settings.DELIVERY_SWEEP_SECONDS,
        ),
        PeriodicSpec(
            name="crm: send queued emails (retries, recovery)",
            task=EMAILS_SEND_TASK,
            every_seconds=settings.EMAIL_SWEEP_SECONDS,
        ),
        PeriodicSpec(
            name="crm: send held emails whose cause is gone (hold sweep)",
            task=EMAILS_HELD_RECHECK_TASK,
            every_seconds=settings.EMAIL_SWEEP_SECONDS,
        ),
        PeriodicSpec(
            name="crm: queue due sequence emails",
            task=SEQUENCES_SEND_TASK,
            every_seconds=settings.EMAIL_SWEEP_SECONDS,
        ),
        PeriodicSpec(
            name="crm: send scheduled broadcasts",
            task=BROADCASTS_SEND_TASK,
            every_seconds=settings.EMAIL_SWEEP_SECONDS * 6,
        ),
        PeriodicSpec(
            # The name is beat's key for the row; the sweep now hands queued imports (new or
            # handed on by the reaper) to workers.
            name="crm: resume CSV imports that stopped moving",
            task=SUBSCRIBER_IMPORTS_RESUME_TASK,
            every_seconds=settings.IMPORT_SWEEP_SECONDS,
        ),
    ]
