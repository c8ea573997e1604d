"""Segment counts: "has tag A AND NOT tag B OR tag C" over many subscribers, one query.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/segment.py [--scale]

Default 50,000 subscribers with 250,000 taggings; --scale: 1,000,000 and 5,000,000. Prints the
compiler's time (median of 5) beside a floor: the same count written as plain SQL by hand.
"""

import argparse
import random
import statistics
import time

from _setup import (
    bench_database_url,
    copy_rows,
    copy_subscribers,
    print_table,
    recreate_database,
    setup_django,
    write_results,
)

TAGS = 20
RUNS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true", help="1,000,000 subscribers")
    args = parser.parse_args()
    subscribers = 1_000_000 if args.scale else 50_000
    per_subscriber = 5

    url = bench_database_url()
    recreate_database(url)
    setup_django(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from apps.tags.conditions import subscribers_matching
    from apps.tags.models import Tag

    now = timezone.now()
    copy_subscribers("s", subscribers)
    tags = [Tag.objects.create(name=f"Tag {i}", name_key=f"tag {i}") for i in range(TAGS)]
    first = connection.cursor()
    first.execute("SELECT min(id) FROM crm_subscriber")
    base = first.fetchone()[0]
    rng = random.Random(7)
    tag_ids = [t.pk for t in tags]
    copy_rows(
        "tags_tagging",
        ["subscriber_id", "tag_id", "created_at", "source"],
        (
            (base + i, t, now, "bench")
            for i in range(subscribers)
            for t in rng.sample(tag_ids, per_subscriber)
        ),
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    a, b, c = tag_ids[:3]
    condition = {"or": [{"and": [{"has": a}, {"has_not": b}]}, {"has": c}]}

    def compiler():
        with CaptureQueriesContext(connection) as ctx:
            count = subscribers_matching(condition).count()
        return count, len(ctx.captured_queries)

    floor_sql = (
        "SELECT count(*) FROM crm_subscriber s WHERE "
        "(EXISTS (SELECT 1 FROM tags_tagging t WHERE t.subscriber_id = s.id AND t.tag_id = %s) "
        "AND NOT EXISTS (SELECT 1 FROM tags_tagging t WHERE t.subscriber_id = s.id "
        "AND t.tag_id = %s)) OR EXISTS (SELECT 1 FROM tags_tagging t "
        "WHERE t.subscriber_id = s.id AND t.tag_id = %s)"
    )

    def floor():
        with connection.cursor() as cursor:
            cursor.execute(floor_sql, [a, b, c])
            return cursor.fetchone()[0]

    timings, floor_timings = [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        count, queries = compiler()
        timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        expected = floor()
        floor_timings.append(time.perf_counter() - started)
    assert count == expected, (count, expected)
    median, floor_median = statistics.median(timings), statistics.median(floor_timings)
    print_table(
        f"Segment bench: {subscribers:,} subscribers, {subscribers * per_subscriber:,} taggings",
        [
            ("matching subscribers", f"{count:,}"),
            ("queries", str(queries)),
            ("compiler (median)", f"{median * 1000:.1f} ms"),
            ("floor: hand-written SQL", f"{floor_median * 1000:.1f} ms"),
            ("compiler / floor", f"{median / floor_median:.2f}x"),
        ],
    )
    write_results(
        "segment",
        {
            "subscribers": subscribers,
            "matching": count,
            "queries": queries,
            "seconds": median,
            "floor_seconds": floor_median,
            "ratio": median / floor_median,
        },
    )


if __name__ == "__main__":
    main()
