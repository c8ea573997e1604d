"""Real ``celery worker`` processes, for the tests and benches whose behaviour is a worker's."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
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


def worker_env(secret: str, **overrides: str) -> dict:
    """A worker's environment: this test's database and Redis, connections not kept between
    tasks, and ``overrides`` (short leases, an SMTP sink...)."""
    from django.conf import settings

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": secret,
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CONN_MAX_AGE": "0",
        **overrides,
    }


def rows_locked(queryset) -> set[int]:
    """Ids of ``queryset``'s rows that another transaction holds locked right now."""
    from django.db import transaction

    with transaction.atomic():
        ids = set(queryset.values_list("pk", flat=True))
        free = set(
            queryset.filter(pk__in=ids)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
    return ids - free


def _table_locked_elsewhere(model) -> bool:
    """Whether another session's open transaction has taken row locks in ``model``'s table
    (its RowShareLock shows in pg_locks), asked without locking a row: a probe that locked
    rows would make a SKIP LOCKED claimer pass over them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            # This database's sessions only: the suite's other process has a database of its
            # own with the same tables.
            "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = %s AND l.mode = 'RowShareLock' AND l.pid <> pg_backend_pid() "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [model._meta.db_table],
        )
        return cursor.fetchone() is not None


def worker_stop_while_locked(
    worker: subprocess.Popen, queryset, *, seconds: float, tries: int = 50
) -> set[int] | None:
    """SIGSTOP the worker while its open transaction holds rows of ``queryset``; return
    them. Polls (a stop that lands just after a commit resumes the worker and tries again);
    None when the worker was never caught within ``seconds``."""
    deadline = time.monotonic() + seconds
    for _ in range(tries):
        while not _table_locked_elsewhere(queryset.model):
            if worker.poll() is not None or time.monotonic() > deadline:
                return None
            time.sleep(0.005)
        os.killpg(worker.pid, signal.SIGSTOP)
        held = rows_locked(queryset)
        if held:
            return held
        os.killpg(worker.pid, signal.SIGCONT)
    return None


_sqlite_template: dict[str, Path] = {}


def sqlite_migrated(dest: Path, env: dict) -> None:
    """A migrated SQLite database at ``dest`` for a subprocess site, copied from one
    migrated once per test session: migrating from nothing takes about 20 s, and three
    subprocess sites start in the suite. The caller still runs ``migrate`` with its own
    environment (a no-op on the schema, seconds), so what migrate writes from settings, the
    beat schedule, is theirs."""
    if "path" not in _sqlite_template:
        template = Path(tempfile.mkdtemp(prefix="tessera-sqlite-template-")) / "db.sqlite3"
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env={**env, "DATABASE_URL": f"sqlite:///{template}"},
            check=True,
            capture_output=True,
            timeout=600,
        )
        _sqlite_template["path"] = template
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_sqlite_template["path"], dest)
