"""Real ``celery worker`` processes, for the tests and benches whose behaviour is a worker's."""

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def worker_start(*, name: str, env: dict, concurrency: int = 0, log=None) -> subprocess.Popen:
    """Start one worker in its own process group (so it can be killed whole): a single
    process, or with ``concurrency`` a prefork parent and as many children (production's
    shape). Its output goes to ``log`` (a file) if given, else stderr is kept for reading."""
    pool = ["--pool", "solo"]
    if concurrency:
        pool = ["--pool", "prefork", "--concurrency", str(concurrency)]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            *pool,
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
            "-n",
            f"{name}@%h",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=log or subprocess.DEVNULL,
        stderr=log or subprocess.PIPE,
    )


def worker_stop(worker: subprocess.Popen, *, sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` to the worker's group and wait; SIGKILL if it will not go."""
    if worker.poll() is None:
        os.killpg(worker.pid, sig)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)


def worker_database_url() -> str:
    """The URL of the database this test process uses (pytest-django's test database)."""
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
