"""Logging: a request id on every line, JSON lines on request, and quiet periodic sweeps.

Every log record carries ``request_id``: the id of the web request it was written in (taken
from a sane ``X-Request-ID`` header a proxy set, else a new one, and sent back in the
response's ``X-Request-ID``), or the id of the Celery task, or "-". ``LOG_FORMAT=json`` writes
one JSON object per line with it.

Beat runs the sweeps every few seconds; at INFO, Celery wrote three lines per sweep (beat's
"sending due task", the worker's "received" and "succeeded"), about 370,000 lines a day on an
idle site. Those lines are lowered to DEBUG for the periodic tasks, except "succeeded" when
the sweep returned something other than nothing (it did work).
"""

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# What a proxy's request id may look like (anything else is replaced: it goes into logs).
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
REQUEST_ID_HEADER = "X-Request-ID"


def request_id_get() -> str:
    return _request_id.get()


def request_id_set(value: str) -> contextvars.Token:
    return _request_id.set(value)


def request_id_reset(token: contextvars.Token) -> None:
    _request_id.reset(token)


class RequestIdMiddleware:
    """Give the request an id for its log lines and echo it in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        rid = given if REQUEST_ID_PATTERN.match(given) else uuid.uuid4().hex
        request.request_id = rid
        token = request_id_set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id_reset(token)
        response[REQUEST_ID_HEADER] = rid
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_get()
        return True


# Attributes every LogRecord has; anything else was passed in ``extra`` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "data",  # Celery's copy of the message arguments
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_get()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


# Return values of a sweep that found nothing to do.
_IDLE_RESULTS = {"0", "None", "{}", "[]", "False"}


def _sweep_tasks() -> set[str]:
    from apps.core.periodic import periodic_task_names

    return periodic_task_names()


class QuietSweepsFilter(logging.Filter):
    """Lower Celery's per-task lines about periodic sweeps to DEBUG, unless a sweep did work;
    a lowered line is written only where DEBUG is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = self._task_name(record)
        if task is None or task not in _sweep_tasks():
            return True
        if record.name == "celery.app.trace":
            result = record.args.get("return_value") if isinstance(record.args, dict) else None
            if result is not None and str(result) not in _IDLE_RESULTS:
                return True
            if record.levelno > logging.INFO:  # a failure stays loud
                return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)

    @staticmethod
    def _task_name(record: logging.LogRecord) -> str | None:
        if isinstance(record.args, dict):
            name = record.args.get("name")
        elif record.name == "celery.beat" and isinstance(record.args, tuple) and record.args:
            name = record.args[-1] if len(record.args) == 2 else None
        else:
            name = None
        return name if isinstance(name, str) else None
