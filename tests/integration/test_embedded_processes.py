"""The embedded default (SQLite, the filesystem broker, no Redis) with real processes: a web
server and a worker, each its own process, sharing only var/ (the database, the broker's
folders and the cache).

With a per-process cache the web process's "a ring is queued" flag was never cleared by the
worker, so a second Webhook Generator call within the flag's lifetime (15 s) was not rung and
waited for the two-minute sweep. No beat runs here: only a ring can get a call done.
"""

import http.cookiejar
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.processes import ROOT, sqlite_migrated, worker_start, worker_stop

CALL_DONE_WITHIN_SECONDS = 10
CALLS_APART_SECONDS = 5
# Generous: on a busy machine Django, gunicorn and celery each take seconds to start.
START_TIMEOUT_SECONDS = 120

_SETUP = """
from apps.members.services import endpoint_mint
from apps.offerings.services import offering_create
offering = offering_create(name="Embedded Course")
print(endpoint_mint(operation="release", offering=offering).url)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECONDS * 2,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        return json.load(response)


def _call_status(database: str, call_id: int) -> str | None:
    with sqlite3.connect(database, timeout=30) as db:
        query = "SELECT status FROM members_webhookcall WHERE id = ?"
        row = db.execute(query, [call_id]).fetchone()
    return row[0] if row else None


def _email_statuses(database: str, kind: str) -> list[str]:
    with sqlite3.connect(database, timeout=30) as db:
        query = "SELECT status FROM crm_emailmessage WHERE kind = ?"
        return [status for (status,) in db.execute(query, [kind])]


def _login_link_ask(port: int, email: str) -> str:
    """Ask for a login link on the login page, as a browser does (cookie and CSRF token)."""
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    login = f"http://127.0.0.1:{port}/login/"
    page = browser.open(login, timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "email": email, "action": "link"}
    ).encode()
    request = urllib.request.Request(login, data=form, headers={"Referer": login})
    return browser.open(request, timeout=30).read().decode()


def _wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def embedded_env(tmp_path):
    """The environment of a bare machine's `make run`: nothing but var/ (here a fresh one)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    port = _free_port()
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY="embedded-processes-test",
        DEBUG="0",
        TESSERA_VAR_DIR=str(tmp_path / "var"),
        SITE_URL=f"http://127.0.0.1:{port}",
        STATICFILES_BACKEND="django.contrib.staticfiles.storage.StaticFilesStorage",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    return env, port, str(tmp_path / "var" / "tessera.sqlite3")


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        worker_stop(process)


def _web_start(env: dict, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _web_up(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5)
    except OSError:
        return False
    return True


@pytest.fixture
def embedded_site(embedded_env, processes):
    """A migrated embedded site with a Release Offering URL, a web server and a worker:
    (the URL, the web port, the SQLite file)."""
    env, port, database = embedded_env
    sqlite_migrated(Path(database), env)
    _manage(env, "migrate", "--noinput")
    url = _manage(env, "shell", "-c", _SETUP).strip().splitlines()[-1]
    processes.append(_web_start(env, port))
    processes.append(worker_start(name="embedded", env=env))
    assert _wait_until(lambda: _web_up(port), START_TIMEOUT_SECONDS), "no answer from the web"
    return url, port, database


def test_two_webhook_calls_five_seconds_apart_are_both_done_promptly(embedded_site):
    # given: the site, and a first call
    url, _port, database = embedded_site
    # A first call warms the worker up (its start is not what is measured).
    warm = _post(url, {"email": "warm-up@example.com"})["call"]
    assert _wait_until(lambda: _call_status(database, warm) == "done", START_TIMEOUT_SECONDS)

    # when: two calls, five seconds apart (inside the doorbell flag's lifetime)
    first_sent = time.monotonic()
    first = _post(url, {"email": "first-buyer@example.com"})["call"]
    time.sleep(max(0.0, first_sent + CALLS_APART_SECONDS - time.monotonic()))
    second_sent = time.monotonic()
    second = _post(url, {"email": "second-buyer@example.com"})["call"]

    # then: each is done within ten seconds of being sent, with no beat sweep to rescue it
    assert _wait_until(
        lambda: _call_status(database, first) == "done",
        first_sent + CALL_DONE_WITHIN_SECONDS - time.monotonic(),
    ), f"the first call is {_call_status(database, first)!r}"
    assert _wait_until(
        lambda: _call_status(database, second) == "done",
        second_sent + CALL_DONE_WITHIN_SECONDS - time.monotonic(),
    ), f"the second call is {_call_status(database, second)!r}"


def test_a_login_link_asked_for_on_the_login_page_is_sent_by_the_worker(embedded_site):
    # given: a member (made by a release) on the site
    url, port, database = embedded_site
    call = _post(url, {"email": "student@example.com"})["call"]
    assert _wait_until(lambda: _call_status(database, call) == "done", START_TIMEOUT_SECONDS)

    # when
    answer = _login_link_ask(port, "student@example.com")

    # then: an outbox row, which the worker sends
    assert "a login link is on its way" in answer
    assert _email_statuses(database, "login_link") in (["queued"], ["sending"], ["sent"])
    assert _wait_until(
        lambda: _email_statuses(database, "login_link") == ["sent"], START_TIMEOUT_SECONDS
    )
