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

    connections.close_all()
