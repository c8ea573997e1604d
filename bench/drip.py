"""Drip day: many access grants, some with a module due; real workers release them.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/drip.py [--scale] [--workers 2]

Default 50,000 grants of which 1,000 are due; --scale: 1,000,000 and 10,000. Prints the time
until every due module is released (by worker processes running the beat task), the time of a
sweep with nothing due (median of 20, the partial index at work), and a floor: the same release
rows, tags and events written by plain batched SQL.
"""

import argparse
import statistics
import time
from datetime import timedelta

from _setup import (
    bench_database_url,
    copy_rows,
    copy_subscribers,
    print_table,
    recreate_database,
    setup_django,
    start_workers,
    stop_workers,
    write_results,
)

TIMEOUT_SECONDS = 600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true", help="1,000,000 grants, 10,000 due")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    grants, due = (1_000_000, 10_000) if args.scale else (50_000, 1_000)

    url = bench_database_url()
    recreate_database(url)
    setup_django(url)
    from django.db import connection
    from django.utils import timezone

    from apps.offerings.models import ModuleRelease
    from apps.offerings.services import drip_sweep_batch, module_add, offering_create
    from apps.offerings.tasks import drip_sweep
    from config.celery import app

    now = timezone.now()
    course = offering_create(name="Bench Course")
    module_add(offering=course, title="Base")
    second = module_add(offering=course, title="Week 2", release_rule="days_after", release_days=7)
    copy_subscribers("d", grants)
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM crm_subscriber")
        base = cursor.fetchone()[0]

    def grant(i):
        granted = now - timedelta(days=8 if i < due else 1)
        return (base + i, course.pk, granted, "bench", granted + timedelta(days=7))

    copy_rows(
        "offerings_accessgrant",
        ["subscriber_id", "offering_id", "granted_at", "source", "next_release_at"],
        (grant(i) for i in range(grants)),
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    empty = []
    for _ in range(20):
        started = time.perf_counter()
        drip_sweep_batch(now=now - timedelta(days=30))
        empty.append(time.perf_counter() - started)

    app.control.purge()
    procs = start_workers(url, args.workers)
    try:
        time.sleep(3)
        started = time.perf_counter()
        for _ in range(args.workers):
            drip_sweep.delay()
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if ModuleRelease.objects.filter(module=second).count() >= due:
                break
            time.sleep(0.05)
        released_in = time.perf_counter() - started
    finally:
        stop_workers(procs)
    released = ModuleRelease.objects.filter(module=second).count()

    floor_started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM offerings_module WHERE offering_id = %s AND position = 1", [course.pk]
        )
        first_module = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO offerings_modulerelease (grant_id, module_id, released_at, source) "
            "SELECT id, %s, now(), 'floor' FROM offerings_accessgrant "
            "WHERE next_release_at <= %s AND revoked_at IS NULL "
            "ON CONFLICT DO NOTHING",
            [first_module, now],
        )
        cursor.execute(
            "INSERT INTO tags_tagging (subscriber_id, tag_id, created_at, source) "
            "SELECT subscriber_id, %s, now(), 'floor' FROM offerings_accessgrant "
            "WHERE next_release_at <= %s ON CONFLICT DO NOTHING",
            [course.instant_tag_id, now],
        )
        cursor.execute(
            "INSERT INTO crm_event (subscriber_id, type, payload, created_at, attempts, "
            "last_error) SELECT subscriber_id, 'module_released', '{}'::jsonb, now(), 0, '' "
            "FROM offerings_accessgrant WHERE next_release_at <= %s",
            [now],
        )
    floor = time.perf_counter() - floor_started

    print_table(
        f"Drip bench: {grants:,} grants, {due:,} due, {args.workers} worker(s)",
        [
            ("released", f"{released:,} of {due:,}"),
            ("all due released in", f"{released_in:.2f} s"),
            ("sweep with nothing due (median)", f"{statistics.median(empty) * 1000:.2f} ms"),
            ("floor: same rows by plain SQL", f"{floor:.2f} s"),
            ("engine / floor", f"{released_in / floor:.1f}x"),
        ],
    )
    write_results(
        "drip",
        {
            "grants": grants,
            "due": due,
            "released": released,
            "seconds": released_in,
            "empty_sweep_ms": statistics.median(empty) * 1000,
            "floor_seconds": floor,
            "ratio": released_in / floor,
        },
    )


if __name__ == "__main__":
    main()
