from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "apps.crm"
    label = "crm"
    verbose_name = "CRM"

    def ready(self) -> None:
        from . import delivery  # noqa: F401  (registers its lease kind)
        from .demo import seed_step_register
        from .dispatch import consumer_register
        from .event_types import FIELD_VALUE_UPDATED
        from .hooks import hooks_on_events
        from .imports import leases  # noqa: F401  (registers its lease kind)
        from .messaging import sending  # noqa: F401  (registers its lease kind)
        from .messaging.held import held_emails_on_events
        from .seed import seed_admin, seed_messaging, seed_subscribers

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
