"""Django's LOGGING for config/settings.py.

LOG_FORMAT=json: one JSON object per line, each with the request id of the request (or the
task id of the Celery task) it belongs to. The periodic sweeps log at DEBUG unless they did
some work (apps/core/logs.py), so an idle site writes next to nothing.
"""

from django.core.exceptions import ImproperlyConfigured

LOG_FORMATS = ("plain", "json")
# Celery's per-task lines ("received", "succeeded", beat's "sending due task").
CELERY_TASK_LOGGERS = ("celery.app.trace", "celery.worker.strategy", "celery.beat")


def logging_config(*, fmt: str, level: str) -> dict:
    if fmt not in LOG_FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {fmt!r}.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "apps.core.logs.RequestIdFilter"},
            "quiet_sweeps": {"()": "apps.core.logs.QuietSweepsFilter"},
        },
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"},
            "json": {"()": "apps.core.logs.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            **{name: {"filters": ["quiet_sweeps"]} for name in CELERY_TASK_LOGGERS},
        },
    }
