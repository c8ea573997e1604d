"""Shared set-up for the bench scripts: a database of their own, migrated, and worker processes.

The scripts need PostgreSQL (``DATABASE_URL``) and Redis (``REDIS_URL``); they create and drop
``<name>_bench`` beside the database ``DATABASE_URL`` names, so a bench never touches real
data.
"""

import hashlib
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

from tests.processes import worker_start, worker_stop  # noqa: E402


def bench_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (the bench makes its own database).")
    if not os.environ.get("REDIS_URL"):
        sys.exit("Set REDIS_URL to a running Redis (the workers' broker).")
    parts = urlsplit(base)
    name = parts.path.lstrip("/") or "tessera"
    return urlunsplit(parts._replace(path=f"/{name}_bench"))


def migrations_fingerprint() -> str:
    """What a migrated database depends on: our migration files and the installed packages'
    versions (Django's and the other apps' migrations come with them)."""
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("apps/*/migrations/*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    versions = sorted(
        f"{dist.metadata['Name']}=={dist.version}" for dist in importlib.metadata.distributions()
    )
    digest.update("\n".join(versions).encode())
    return digest.hexdigest()


def recreate_database(url: str) -> None:
    """An empty, migrated database at ``url``, copied from a template migrated once per set of
    migrations (``<name>_template``): migrating from nothing takes about 20 s, a copy well
    under one, and the suite runs seven benches."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    name = parts.path.lstrip("/")
    template = f"{name}_template"
    fingerprint = migrations_fingerprint()
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(drop.format(sql.Identifier(name)))
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [template],
        ).fetchone()
        if row is None or row[0] != fingerprint:
            conn.execute(drop.format(sql.Identifier(template)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template)))
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
                cwd=ROOT,
                env=django_env(urlunsplit(parts._replace(path=f"/{template}"))),
                check=True,
            )
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(template), sql.Literal(fingerprint)
                )
            )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )


def django_env(url: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret"),
        "LOG_LEVEL": "WARNING",
        # No collectstatic in a bench: serve the stylesheet by name.
        "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
    }


def setup_django(url: str) -> None:
    os.environ.update(django_env(url))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start_workers(url: str, count: int) -> list[subprocess.Popen]:
    return [worker_start(name=f"bench{i}", env=django_env(url)) for i in range(count)]


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker_stop(worker)


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows) + 2
    print(f"\n{title}")
    for label, value in rows:
        print(f"  {label:<{width}}{value}")


def write_results(name: str, figures: dict) -> None:
    import json
    from datetime import UTC, datetime

    RESULTS.mkdir(parents=True, exist_ok=True)
    figures = {**figures, "measured_at": datetime.now(UTC).isoformat()}
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2, default=str))


def copy_rows(table: str, columns: list[str], rows) -> None:
    """Bulk-load with COPY (the fastest way PostgreSQL takes rows): set-up, not measured."""
    from django.db import connection

    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def copy_subscribers(prefix: str, count: int) -> None:
    """``count`` active subscribers ``<prefix><i>@example.com``, loaded with COPY."""
    from django.utils import timezone

    from apps.crm.models import Subscriber

    now = timezone.now()
    defaults = {
        "first_name": "",
        "cancelled_at": None,
        "state": "active",
        "created_at": now,
        "updated_at": now,
        "broadcasts_opted_out": False,
        "keep_purchase_emails": True,
        "is_test": False,
    }
    columns = [f.column for f in Subscriber._meta.concrete_fields if f.column != "id"]
    missing = set(columns) - {"email", *defaults}
    if missing:  # a new column: say so here rather than as a COPY error
        raise SystemExit(f"copy_subscribers: give a value for {sorted(missing)}")
    copy_rows(
        "crm_subscriber",
        columns,
        (
            [f"{prefix}{i}@example.com" if c == "email" else defaults[c] for c in columns]
            for i in range(count)
        ),
    )
