"""Idempotent registration of the periodic tasks each app needs.

One home per app: an app's periodic tasks are what ``periodic_specs()`` in its own
``periodic.py`` returns (this module is core's). Core finds those modules when the apps are
ready (:func:`periodic_discover`); after every ``migrate`` the rows exist in
django-celery-beat's tables with the wanted interval, so no one ever has to create them by
hand, and running ``migrate`` twice changes nothing.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import import_module

from django.apps import AppConfig, apps
from django.conf import settings
from django.db.models.signals import post_migrate
from django.utils.module_loading import module_has_submodule

PERIODIC_MODULE = "periodic"


@dataclass(frozen=True)
class PeriodicSpec:
    name: str
    task: str
    every_seconds: int


# Every periodic task, by app label then name, as the apps registered them (the logs keep
# these quiet; migrate writes each app's after that app is migrated).
_SPECS: dict[str, dict[str, PeriodicSpec]] = {}


def periodic_specs() -> list[PeriodicSpec]:
    """Core's own: the reaper that hands on the work of dead workers."""
    from .tasks import LEASES_REAP_TASK

    return [
        PeriodicSpec(
            name="core: hand on the work of dead workers",
            task=LEASES_REAP_TASK,
            every_seconds=settings.LEASE_REAP_SECONDS,
        )
    ]


def periodic_task_names() -> set[str]:
    return {spec.task for spec in periodic_specs_all()}


def periodic_specs_all() -> list[PeriodicSpec]:
    return [spec for specs in _SPECS.values() for spec in specs.values()]


def periodic_tasks_ensure(*, specs: Iterable[PeriodicSpec]) -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for spec in specs:
        schedule, _ = IntervalSchedule.objects.get_or_create(
            every=spec.every_seconds, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.update_or_create(
            name=spec.name, defaults={"task": spec.task, "interval": schedule, "enabled": True}
        )


def _specs_register(app_config: AppConfig, specs: Iterable[PeriodicSpec]) -> None:
    registered = _SPECS.setdefault(app_config.label, {})
    registered.update((spec.name, spec) for spec in specs)

    def _handler(sender, **kwargs):
        periodic_tasks_ensure(specs=list(registered.values()))

    # One receiver per app, fired once after the whole migrate (sender=this app's config).
    post_migrate.connect(_handler, sender=app_config, weak=False, dispatch_uid=app_config.label)


def periodic_discover() -> None:
    """Register ``periodic_specs()`` from every installed app's ``periodic.py``."""
    for app_config in apps.get_app_configs():
        if not module_has_submodule(app_config.module, PERIODIC_MODULE):
            continue
        module = import_module(f"{app_config.name}.{PERIODIC_MODULE}")
        provide: Callable[[], Iterable[PeriodicSpec]] | None = getattr(
            module, "periodic_specs", None
        )
        if provide is not None:
            _specs_register(app_config, provide())
