from django.apps import AppConfig
from django.conf import settings


class CrmConfig(AppConfig):
    name = "apps.crm"
    label = "crm"
    verbose_name = "CRM"

    def ready(self) -> None:
        from apps.core.periodic import PeriodicSpec, connect

        from . import delivery  # noqa: F401  (registers its lease kind)
        from .demo import seed_step_register
        from .dispatch import consumer_register
        from .event_types import FIELD_VALUE_UPDATED
        from .hooks import hooks_on_events
        from .messaging import sending  # noqa: F401  (registers its lease kind)
        from .messaging.held import held_emails_on_events
        from .seed import seed_admin, seed_messaging, seed_subscribers
        from .tasks import (
            BROADCASTS_SEND_TASK,
            DELIVERIES_SEND_TASK,
            EMAILS_HELD_RECHECK_TASK,
            EMAILS_SEND_TASK,
            EVENTS_DISPATCH_TASK,
            SEQUENCES_SEND_TASK,
            SUBSCRIBER_IMPORTS_RESUME_TASK,
        )

        connect(
            self,
            [
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
                    name="crm: resume CSV imports that stopped moving",
                    task=SUBSCRIBER_IMPORTS_RESUME_TASK,
                    every_seconds=60,
                ),
            ],
        )
        consumer_register(name="crm.hooks", handle=hooks_on_events)
        consumer_register(
            name="crm.held_emails",
            handle=held_emails_on_events,
            event_types=[FIELD_VALUE_UPDATED],
        )
        from anymail.signals import tracking

        from .tracking import on_anymail_tracking

        tracking.connect(on_anymail_tracking, dispatch_uid="crm.tracking")
        seed_step_register(name="crm.admin", order=0, run=seed_admin)
        seed_step_register(name="crm.subscribers", order=10, run=seed_subscribers)
        seed_step_register(name="crm.messaging", order=12, run=seed_messaging)
