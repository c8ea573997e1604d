from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app below the others shares: the worker heartbeats and the lease reaper."""

    name = "apps.core"
    label = "core"
    verbose_name = "Operations"

    def ready(self) -> None:
        from .periodic import periodic_discover

        # Every app's periodic.py, this one's included (models are all loaded by now).
        periodic_discover()
