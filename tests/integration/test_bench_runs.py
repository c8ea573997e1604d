"""The bench scripts keep working as the schema changes (a tiny scale; the figures are the
bench's business, not the test's)."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from tests.processes import ROOT


@pytest.mark.postgres
@pytest.mark.redis
def test_the_engine_bench_runs_and_prints_both_rates(tmp_path):
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/tessera_benchcheck"
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": settings.REDIS_URL}

    result = subprocess.run(
        [sys.executable, "bench/engine.py", "--subscribers", "60", "--workers", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert "engine (real workers)" in result.stdout
    assert "floor (plain SQL, batched)" in result.stdout
    figures = json.loads((ROOT / "bench" / "results" / "engine.json").read_text())
    assert figures["engine"]["completed"] == 60
    assert figures["engine"]["steps"] == figures["floor"]["steps"] == 300
