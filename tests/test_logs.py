"""Log lines: a request id everywhere, JSON on request, quiet sweeps, and a 503 (not a 500)
when the database connection is lost under a request."""

import json
import logging
import os
import subprocess
import sys

import pytest
from django.db import OperationalError
from django.test import RequestFactory

from apps.automations.tasks import RUNS_ADVANCE_TASK, RUNS_SWEEP_TASK
from apps.core.logs import JsonFormatter, QuietSweepsFilter, request_id_reset, request_id_set
from apps.core.unavailable import DatabaseUnavailableMiddleware
from tests.processes import ROOT


def _record(name: str, level: int, msg: str, args) -> logging.LogRecord:
    # Celery logs with one mapping argument, which LogRecord unwraps from its tuple.
    wrapped = (args,) if isinstance(args, dict) else args
    return logging.LogRecord(name, level, __file__, 1, msg, wrapped, None)


def test_json_lines_carry_the_request_id_and_extra_fields():
    token = request_id_set("req-12345678")
    try:
        record = _record("apps.x", logging.WARNING, "paid %s", ("twice",))
        record.subscriber_id = 7
        from apps.core.logs import RequestIdFilter

        RequestIdFilter().filter(record)
        line = JsonFormatter().format(record)
    finally:
        request_id_reset(token)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["message"] == "paid twice"
    assert entry["level"] == "WARNING"
    assert entry["request_id"] == "req-12345678"
    assert entry["subscriber_id"] == 7


@pytest.mark.django_db
def test_every_response_carries_a_request_id_and_a_sane_one_from_the_proxy_is_kept(client):
    fresh = client.get("/login/")["X-Request-ID"]
    kept = client.get("/login/", HTTP_X_REQUEST_ID="proxy-abcdef123")["X-Request-ID"]
    replaced = client.get("/login/", HTTP_X_REQUEST_ID="bad id\nwith a newline")["X-Request-ID"]
    assert len(fresh) == 32
    assert kept == "proxy-abcdef123"
    assert replaced != "bad id\nwith a newline" and len(replaced) == 32


@pytest.mark.parametrize(
    "name, msg, args, kept",
    [
        # an idle sweep's lines are lowered to DEBUG (dropped at INFO) ...
        (
            "celery.worker.strategy",
            "Task %(name)s[%(id)s] received",
            {"name": RUNS_SWEEP_TASK},
            False,
        ),
        (
            "celery.app.trace",
            "Task %(name)s succeeded: %(return_value)s",
            {"name": RUNS_SWEEP_TASK, "return_value": "0"},
            False,
        ),
        ("celery.beat", "Scheduler: Sending due task %s (%s)", ("sweep", RUNS_SWEEP_TASK), False),
        # ... a sweep that did work, and every other task, keep theirs
        (
            "celery.app.trace",
            "Task %(name)s succeeded: %(return_value)s",
            {"name": RUNS_SWEEP_TASK, "return_value": "12"},
            True,
        ),
        (
            "celery.app.trace",
            "Task %(name)s succeeded: %(return_value)s",
            {"name": RUNS_ADVANCE_TASK, "return_value": "{}"},
            True,
        ),
    ],
)
def test_periodic_sweeps_log_at_debug_unless_they_did_work(name, msg, args, kept):
    record = _record(name, logging.INFO, msg, args)
    assert QuietSweepsFilter().filter(record) is kept
    assert record.levelno == (logging.INFO if kept else logging.DEBUG)


def test_a_lost_database_connection_answers_503_with_retry_after_not_500():
    request = RequestFactory().post("/v3/tags/1/subscribe")
    middleware = DatabaseUnavailableMiddleware(lambda r: None)

    response = middleware.process_exception(
        request, OperationalError("terminating connection due to administrator command")
    )

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "Send it again" in json.loads(response.content)["message"]
    assert middleware.process_exception(request, ValueError("other")) is None


def _settings_run(env: dict, code: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"LOG_FORMAT", "SENTRY_DSN"}}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings_test", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_log_format_json_writes_one_json_object_per_line():
    result = _settings_run(
        {"LOG_FORMAT": "json"},
        "import logging; logging.getLogger('apps.probe').warning('first\\nsecond')",
    )
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    entry = json.loads(lines[0])
    assert (entry["logger"], entry["message"], entry["request_id"]) == (
        "apps.probe",
        "first\nsecond",
        "-",
    )


def test_a_sentry_dsn_turns_on_error_reports_for_django_and_celery():
    result = _settings_run(
        {"SENTRY_DSN": "https://public@sentry.invalid/1"},
        "import sentry_sdk; c = sentry_sdk.get_client(); "
        "print(c.is_active(), sorted(c.integrations), c.options['send_default_pii'])",
    )
    active, _, rest = result.stdout.partition(" ")
    assert active == "True", result.stderr
    assert "'celery'" in rest and "'django'" in rest
    assert rest.strip().endswith("False")
