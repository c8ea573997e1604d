from django.apps import AppConfig
from django.conf import settings


class CoreConfig(AppConfig):
    """What every app below the others shares: the worker heartbeats and the lease reaper."""

    name = "apps.core"
    label = "core"
    verbose_name = "Operations"

    def ready(self) -> None:
        from apps.core.periodic import PeriodicSpec, connect

        from .tasks import LEASES_REAP_TASK

        connect(
            self,
            [
                PeriodicSpec(
                    name="core: hand on the work of dead workers",
                    task=LEASES_REAP_TASK,
                    every_seconds=settings.LEASE_REAP_SECONDS,
                )
            ],
        )
