"""The Celery app. Tasks are thin adapters over services (see each app's ``tasks.py``)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tessera")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _db_connections_tidy(sender=None, **kwargs) -> None:
    """Between tasks, what Django does between requests: drop a connection that broke or
    outlived CONN_MAX_AGE, keep a good one (CELERY_DB_REUSE_MAX stops Celery closing it).
    Not for an eager task: it runs inside its caller's transaction."""
    from django.db import close_old_connections

    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()


@signals.worker_shutdown.connect
def _db_connections_close(**kwargs) -> None:
    """A reused connection is closed on the way out, so the server frees it at once (a test
    that drops its database right after stopping a worker finds nobody still connected)."""
    from django.db import connections

    from apps.core.leases import heartbeat_stop

    heartbeat_stop()
    connections.close_all()


@signals.worker_process_init.connect
def _heartbeat_in_child(**kwargs) -> None:
    """A prefork child beats from its own thread (a thread started before the fork would
    not exist in the child; its connection would be shared)."""
    from django.conf import settings

    from apps.core.leases import heartbeat_start

    if settings.WORKER_HEARTBEATS:
        heartbeat_start()


@signals.worker_ready.connect
def _heartbeat_in_main(sender=None, **kwargs) -> None:
    """The solo and thread pools run tasks in the main process: it beats itself."""
    from celery.concurrency.prefork import TaskPool as PreforkPool
    from django.conf import settings

    from apps.core.leases import heartbeat_start

    if settings.WORKER_HEARTBEATS and not isinstance(getattr(sender, "pool", None), PreforkPool):
        heartbeat_start()


@signals.worker_process_shutdown.connect
def _heartbeat_end(**kwargs) -> None:
    from apps.core.leases import heartbeat_stop

    heartbeat_stop()


def _is_eager(task) -> bool:
    return bool(getattr(getattr(task, "request", None), "is_eager", False))


@signals.task_prerun.connect
def _task_request_id(task_id=None, task=None, **kwargs) -> None:
    """Log lines a worker's task writes carry its id as their request id (an eager task
    keeps the id of the request that ran it)."""
    from apps.core.logs import request_id_set

    if not _is_eager(task):
        request_id_set(task_id or "-")


@signals.task_postrun.connect
def _task_leases_release(sender=None, **kwargs) -> None:
    """Leases a task claimed and did not finish (it failed) go back to their queue now."""
    from apps.core.leases import leases_release_held
    from apps.core.logs import request_id_set

    if not _is_eager(sender):
        leases_release_held()
        request_id_set("-")
