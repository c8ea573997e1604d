"""Idempotent registration of the periodic tasks each app needs.

Each app lists its periodic tasks and connects :func:`connect` in ``AppConfig.ready()``; after
every ``migrate`` the rows exist in django-celery-beat's tables with the wanted interval, so no
one ever has to create them by hand, and running ``migrate`` twice changes nothing.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models.signals import post_migrate


@dataclass(frozen=True)
class PeriodicSpec:
    name: str
    task: str
    every_seconds: int


# Every periodic task, as the apps registered them (the logs keep these quiet).
_SPECS: dict[str, PeriodicSpec] = {}


def periodic_task_names() -> set[str]:
    return {spec.task for spec in _SPECS.values()}


def periodic_specs_all() -> list[PeriodicSpec]:
    return list(_SPECS.values())


def periodic_tasks_ensure(*, specs: Iterable[PeriodicSpec]) -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for spec in specs:
        schedule, _ = IntervalSchedule.objects.get_or_create(
            every=spec.every_seconds, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.update_or_create(
            name=spec.name, defaults={"task": spec.task, "interval": schedule, "enabled": True}
        )


def connect(app_config, specs: list[PeriodicSpec]) -> None:
    _SPECS.update((spec.name, spec) for spec in specs)

    def _handler(sender, **kwargs):
        periodic_tasks_ensure(specs=specs)

    # One receiver per app, fired once after the whole migrate (sender=this app's config).
    post_migrate.connect(_handler, sender=app_config, weak=False, dispatch_uid=app_config.label)
