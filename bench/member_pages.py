"""Member pages: dashboard, offering and lesson for a member with 20 offerings of 10 modules.

    DATABASE_URL=... .venv/bin/python bench/member_pages.py [--requests 50]

In process (Django's test client, no network): p50 per page and its query count, beside a
floor: the same page's SQL statements run directly, i.e. the database's share of the time.
"""

import argparse
import statistics
import time

from _setup import bench_database_url, print_table, recreate_database, setup_django, write_results

OFFERINGS, MODULES, LESSONS = 20, 10, 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()

    url = bench_database_url()
    recreate_database(url)
    setup_django(url)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from apps.members.models import Operation
    from apps.members.services import operation_run
    from apps.offerings.services import lesson_add, module_add, offering_create

    email = "member@example.com"
    for o in range(OFFERINGS):
        course = offering_create(name=f"Course {o}")
        for m in range(MODULES):
            module = module_add(offering=course, title=f"Module {m}")
            for lesson in range(LESSONS):
                lesson_add(module=module, title=f"Lesson {m}.{lesson}", body="<p>Text</p>")
        operation_run(operation=Operation.RELEASE, offering=course, email=email, source="bench")
    from apps.members.models import Member

    client = Client()
    client.force_login(Member.objects.get(user__username=email).user)
    from apps.offerings.models import Lesson

    last = Lesson.objects.select_related("module__offering").order_by("pk").last()
    offering_path = f"/offerings/{last.module.offering.slug}/"
    pages = {"dashboard": "/", "offering": offering_path, "lesson": f"{offering_path}{last.slug}/"}
    rows, figures = [], {}
    for name, path in pages.items():
        assert client.get(path).status_code == 200, path
        timings = []
        for _ in range(args.requests):
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as ctx:
                client.get(path)
            timings.append(time.perf_counter() - started)
        statements = [q["sql"] for q in ctx.captured_queries]
        floor = []
        for _ in range(args.requests):
            started = time.perf_counter()
            with connection.cursor() as cursor:
                for sql in statements:
                    if not sql.startswith(("SAVEPOINT", "RELEASE")):
                        cursor.execute(sql)
            floor.append(time.perf_counter() - started)
        p50, floor_p50 = statistics.median(timings), statistics.median(floor)
        figures[name] = {
            "p50_ms": p50 * 1000,
            "queries": len(statements),
            "floor_p50_ms": floor_p50 * 1000,
            "ratio": p50 / floor_p50,
        }
        rows.append(
            (
                name,
                f"p50 {p50 * 1000:.1f} ms, {len(statements)} queries, "
                f"floor {floor_p50 * 1000:.1f} ms ({p50 / floor_p50:.1f}x)",
            )
        )
    print_table(
        f"Member pages: {OFFERINGS} offerings x {MODULES} modules x {LESSONS} lessons", rows
    )
    write_results("member_pages", figures)


if __name__ == "__main__":
    main()
