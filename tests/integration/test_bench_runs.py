"""The bench scripts keep working as the code changes (at their small default scale; the
figures are the benches' business, not the tests')."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from tests.processes import ROOT


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    db = connection.settings_dict
    # Named after the test database so two checkouts' suites on one server never drop each
    # other's bench database.
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}_benchcheck"
    return subprocess.run(
        [sys.executable, script, *args],
        cwd=ROOT / "bench",
        env={**os.environ, "DATABASE_URL": url, "REDIS_URL": settings.REDIS_URL},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _figures(name: str) -> dict:
    return json.loads((ROOT / "bench" / "results" / f"{name}.json").read_text())


@pytest.mark.postgres
@pytest.mark.redis
def test_the_engine_bench_runs_and_prints_both_rates():
    result = _run("engine.py", "--subscribers", "60", "--workers", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "engine (real workers)" in result.stdout
    assert "floor (plain SQL, batched)" in result.stdout
    figures = _figures("engine")
    assert figures["engine"]["completed"] == 60
    assert figures["engine"]["steps"] == figures["floor"]["steps"] == 300


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize(
    "script, name, check",
    [
        ("drip.py", "drip", lambda f: f["released"] == f["due"]),
        ("segment.py", "segment", lambda f: f["queries"] == 1 and f["matching"] > 0),
        (
            "member_pages.py",
            "member_pages",
            lambda f: all(p["queries"] < 20 for p in f.values() if isinstance(p, dict)),
        ),
    ],
)
def test_the_other_benches_run_and_record_their_figures(script, name, check):
    result = _run(script)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "floor" in result.stdout
    assert check(_figures(name))


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize(
    "opt_in, name, purchases, extra",
    [
        (False, "launch", 40, []),
        # Both other options in one run: each start of the processes costs a dozen seconds.
        (True, "launch_opt_in_closed_loop", 8, ["--opt-in-password", "--closed-loop"]),
    ],
)
def test_the_launch_bench_takes_every_purchase_to_exactly_one_welcome_email(
    opt_in, name, purchases, extra
):
    # given: the bench at a tiny scale: buyers on a schedule; and the stored-password path
    # with buyers sent as fast as they are answered
    args = ["--purchases", str(purchases), "--concurrency", "4", *extra]
    # when
    result = _run("launch.py", *args)
    # then: it finished, and every end row is there exactly once, nothing failed
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Exact counts" in result.stdout
    assert "floor: same end rows, plain SQL" in result.stdout
    figures = _figures(name)
    assert figures["finished"] and figures["problems"] == []
    per = figures["counts"]["per_purchase"]
    assert set(per.values()) == {purchases}
    for label in ("members", "grants", "welcome emails sent", "people with a welcome email"):
        assert per[label] == purchases
    assert opt_in == ("welcome emails with the password" in per)
    assert all(n == 0 for n in figures["counts"]["zero"].values())
    assert figures["api"]["answered"] == purchases and figures["api"]["non_2xx"] == 0
    assert figures["cpu_seconds"]["celery workers"] > 0
    # and the queries and task hops the processes really ran are counted, per kind and task
    assert {"web (gunicorn)", "celery workers"} <= set(figures["queries"])
    assert figures["queries_per_purchase"] == sum(figures["queries"].values()) / purchases > 0
    assert figures["tasks"]["crm.events_dispatch"] > 0
    assert figures["task_hops_per_purchase"] == sum(figures["tasks"].values()) / purchases
    assert "Queries per purchase" in result.stdout and "Task hops per purchase" in result.stdout
    assert (figures["rate"] is None) == ("--closed-loop" in extra)
