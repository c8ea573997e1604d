from django.apps import AppConfig
from django.conf import settings


class CrmConfig(AppConfig):
    name = "apps.crm"
    label = "crm"
    verbose_name = "CRM"

    def ready(self) -> None:
        from config.periodic import PeriodicSpec, connect

        from .demo import seed_step_register
        from .seed import seed_admin, seed_subscribers
        from .tasks import DELIVERIES_SEND_TASK, EVENTS_DISPATCH_TASK

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
            ],
        )
        seed_step_register(name="crm.admin", order=0, run=seed_admin)
        seed_step_register(name="crm.subscribers", order=10, run=seed_subscribers)
