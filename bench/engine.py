"""Engine throughput: N subscribers through add tag, condition, remove tag, zero delay, end.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tessera REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/engine.py [--subscribers 10000] [--workers 2]

Real worker processes on PostgreSQL and Redis do the work from one committed tag change: the
event is dispatched, runs start, the sweep claims them, workers advance them. The script prints
node executions per second, then the rate of a floor measured in the same run (the same rows
written by plain batched SQL from one connection), and their ratio, because absolute rates on a
shared machine drift. Figures go to bench/results/engine.json as well.
"""

import argparse
import json
import os
import time
from datetime import UTC, datetime

from _setup import (
    RESULTS,
    bench_database_url,
    recreate_database,
    setup_django,
    start_workers,
    stop_workers,
)

STEPS_PER_RUN = 5
# Issue 16's targets: node executions a second, and the most the engine may trail the floor.
TARGET_RATE = 5000
TARGET_FLOOR_RATIO = 1.5
FLOOR_CHUNK = 1000
TIMEOUT_SECONDS = 1800


def build_flow():
    from apps.automations.portable import SCHEMA, VERSION, automation_import

    return automation_import(
        {
            "schema": SCHEMA,
            "version": VERSION,
            "name": "Bench",
            "status": "live",
            "triggers": [{"event_type": "tag_add", "tag": "Bench Go"}],
            "steps": [
                {"kind": "add_tag", "settings": {"tag": "Bench X"}},
                {
                    "kind": "condition",
                    "settings": {"condition": {"has": "Bench X"}},
                    "yes": [{"kind": "remove_tag", "settings": {"tag": "Bench X"}}],
                    "no": [],
                },
                {"kind": "delay", "settings": {"amount": 0, "unit": "minutes"}},
                {"kind": "end", "settings": {}},
            ],
        }
    )


def run_engine(subscribers: int, workers: int, url: str) -> dict:
    from django.db import transaction

    from apps.automations.models import Run, RunStatus, RunStep
    from apps.automations.tasks import runs_reap, runs_sweep
    from apps.crm.models import Subscriber
    from apps.crm.tasks import events_dispatch
    from apps.tags.services import tag_bulk_add, tag_get_or_create
    from config.celery import app

    app.control.purge()
    build_flow()
    Subscriber.objects.bulk_create(
        (Subscriber(email=f"bench{i}@example.com") for i in range(subscribers)), batch_size=5000
    )
    ids = list(Subscriber.objects.values_list("pk", flat=True))
    go = tag_get_or_create(name="Bench Go")[0]
    procs = start_workers(url, workers)
    try:
        time.sleep(3)  # let the workers connect before the clock starts
        started = time.perf_counter()
        with transaction.atomic():
            tag_bulk_add(tag=go, subscriber_ids=ids, source="bench")
        deadline = time.monotonic() + TIMEOUT_SECONDS
        last_kick = 0.0
        while time.monotonic() < deadline:
            if Run.objects.filter(status=RunStatus.COMPLETED).count() >= subscribers:
                break
            if time.monotonic() - last_kick > 2:  # what beat does, as a safety net
                events_dispatch.delay()
                runs_sweep.delay()
                runs_reap.delay()
                last_kick = time.monotonic()
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        stop_workers(procs)
    steps = RunStep.objects.count()
    completed = Run.objects.filter(status=RunStatus.COMPLETED).count()
    return {
        "seconds": elapsed,
        "steps": steps,
        "completed": completed,
        "rate": steps / elapsed if elapsed else 0.0,
    }


def run_floor(subscribers: int) -> dict:
    """The same rows, written by plain SQL in batches: the cost of the writes themselves."""
    from django.db import connection, transaction

    from apps.crm.models import Subscriber

    go_tag, x_tag, node_ids = _floor_fixtures(subscribers)
    ids = list(Subscriber.objects.filter(email__startswith="floor").values_list("pk", flat=True))
    started = time.perf_counter()
    with connection.cursor() as cur:
        for start in range(0, len(ids), FLOOR_CHUNK):
            chunk = ids[start : start + FLOOR_CHUNK]
            with transaction.atomic():
                _floor_chunk(cur, chunk, go_tag, x_tag, node_ids)
    elapsed = time.perf_counter() - started
    steps = len(ids) * STEPS_PER_RUN
    return {"seconds": elapsed, "steps": steps, "rate": steps / elapsed if elapsed else 0.0}


def _floor_fixtures(subscribers: int):
    from apps.automations.models import Automation, Node
    from apps.crm.models import Subscriber
    from apps.tags.models import Tag

    flow = Automation.objects.create(name="Floor", status="draft")
    nodes = [Node.objects.create(automation=flow, kind="end", position=i) for i in range(5)]
    go = Tag.objects.create(name="Floor Go", name_key="floor go")
    x = Tag.objects.create(name="Floor X", name_key="floor x")
    Subscriber.objects.bulk_create(
        (Subscriber(email=f"floor{i}@example.com") for i in range(subscribers)),
        batch_size=5000,
    )
    return go.pk, x.pk, (flow.pk, [n.pk for n in nodes])


def _values(rows) -> tuple[str, list]:
    marks = ", ".join("(" + ", ".join(["%s"] * len(rows[0])) + ")" for _ in rows)
    return marks, [v for row in rows for v in row]


def _floor_chunk(cur, chunk, go_tag, x_tag, node_ids):
    now = datetime.now(UTC)
    flow_id, nodes = node_ids
    event = '{"tag_id": %d, "source": "bench"}'

    def insert(table, columns, rows, returning=""):
        marks, params = _values(rows)
        cur.execute(f"INSERT INTO {table} ({columns}) VALUES {marks} {returning}", params)
        return cur.fetchall() if returning else None

    insert(
        "tags_tagging",
        "subscriber_id, tag_id, created_at, source",
        [(s, go_tag, now, "bench") for s in chunk],
    )
    insert(
        "crm_event",
        "subscriber_id, type, payload, created_at, attempts, last_error",
        [(s, "tag_add", event % go_tag, now, 0, "") for s in chunk],
    )
    run_ids = [
        r[0]
        for r in insert(
            "automations_run",
            "automation_id, subscriber_id, entry_number, status, arrived, lease_token, attempts, "
            "last_error, chain_depth, started_at, pending_detail, resume_at, event_watermark, "
            "steps_logged",
            [
                (flow_id, s, 1, "running", False, 1, 0, "", 0, now, "", now, 0, STEPS_PER_RUN)
                for s in chunk
            ],
            returning="RETURNING id",
        )
    ]
    insert(
        "tags_tagging",
        "subscriber_id, tag_id, created_at, source",
        [(s, x_tag, now, "bench") for s in chunk],
    )
    insert(
        "crm_event",
        "subscriber_id, type, payload, created_at, attempts, last_error",
        [(s, "tag_add", event % x_tag, now, 0, "") for s in chunk],
    )
    cur.execute(
        "DELETE FROM tags_tagging WHERE tag_id = %s AND subscriber_id = ANY(%s)", [x_tag, chunk]
    )
    insert(
        "crm_event",
        "subscriber_id, type, payload, created_at, attempts, last_error",
        [(s, "tag_remove", event % x_tag, now, 0, "") for s in chunk],
    )
    insert(
        "automations_runstep",
        "run_id, seq, node_id, node_kind, node_label, arrived_at, at, outcome, branch, detail, "
        "error",
        [
            (r, i, n, "end", "", now, now, "passed", "", "", "")
            for r in run_ids
            for i, n in enumerate(nodes, start=1)
        ],
    )
    cur.execute(
        "UPDATE automations_run SET status = 'completed', finished_at = %s WHERE id = ANY(%s)",
        [now, run_ids],
    )
    cur.execute(
        "UPDATE crm_event SET dispatched_at = %s WHERE subscriber_id = ANY(%s) "
        "AND dispatched_at IS NULL",
        [now, chunk],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    url = bench_database_url()
    recreate_database(url)
    setup_django(url)
    engine = run_engine(args.subscribers, args.workers, url)
    floor = run_floor(args.subscribers)
    ratio = floor["rate"] / engine["rate"] if engine["rate"] else float("inf")

    print(f"\nEngine bench: {args.subscribers} subscribers, {args.workers} worker process(es)")
    print(f"{'':28}{'steps':>10}{'seconds':>10}{'steps/s':>12}")
    print(
        f"{'engine (real workers)':28}{engine['steps']:>10}{engine['seconds']:>10.2f}"
        f"{engine['rate']:>12.0f}"
    )
    print(
        f"{'floor (plain SQL, batched)':28}{floor['steps']:>10}{floor['seconds']:>10.2f}"
        f"{floor['rate']:>12.0f}"
    )
    print(
        f"floor / engine: {ratio:.1f}x   runs completed: {engine['completed']}"
        f" of {args.subscribers}"
    )
    rate_met = "met" if engine["rate"] >= TARGET_RATE else "NOT met"
    ratio_met = "met" if ratio <= TARGET_FLOOR_RATIO else "NOT met"
    print(
        f"targets: >= {TARGET_RATE:,} steps/s {rate_met}; "
        f"<= {TARGET_FLOOR_RATIO}x the floor {ratio_met}"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "engine.json").write_text(
        json.dumps(
            {
                "subscribers": args.subscribers,
                "workers": args.workers,
                "engine": engine,
                "floor": floor,
                "floor_over_engine": ratio,
                "measured_at": datetime.now(UTC).isoformat(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
