"""Member pages: dashboard, offering and lesson for a member with 20 offerings of 10 modules.

    DATABASE_URL=... .venv/bin/python bench/member_pages.py [--requests 50] [--offerings 20]

The lesson page carries the course outline (every module and lesson with done marks and
opening dates), previous / next and the lesson's files; its query count must not grow with
the course, so the bench measures it on the first and on the last offering, on a lesson of
the first module and one of the last.

In process (Django's test client, no network): p50 per page and its query count, beside a
floor: the same page's SQL statements run directly, i.e. the database's share of the time.
"""

import argparse
import os
import statistics
import tempfile
import time

from _setup import bench_database_url, print_table, recreate_database, setup_django, write_results

OFFERINGS, MODULES, LESSONS = 20, 10, 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--offerings", type=int, default=OFFERINGS)
    args = parser.parse_args()
    offerings = args.offerings

    url = bench_database_url()
    recreate_database(url)
    # The lessons' worksheets go to a throwaway folder, not the demo's var/files/.
    os.environ["FILES_ROOT"] = tempfile.mkdtemp(prefix="tessera-bench-files-")
    setup_django(url)
    from django.core.files.base import ContentFile
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from apps.members.models import Operation
    from apps.members.services import operation_run
    from apps.offerings.models import LessonAttachment
    from apps.offerings.services import lesson_add, lesson_complete, module_add, offering_create

    email = "member@example.com"
    for o in range(offerings):
        course = offering_create(name=f"Course {o}")
        for m in range(MODULES):
            module = module_add(offering=course, title=f"Module {m}")
            for lesson in range(LESSONS):
                done = lesson_add(module=module, title=f"Lesson {m}.{lesson}", body="<p>Text</p>")
                sheet = LessonAttachment(lesson=done, title="Worksheet")
                sheet.file.save("worksheet.pdf", ContentFile(b"%PDF-1.4"), save=True)
        operation_run(operation=Operation.RELEASE, offering=course, email=email, source="bench")
    from apps.members.models import Member

    client = Client()
    client.force_login(Member.objects.get(user__username=email).user)
    from apps.offerings.models import Lesson

    member = Member.objects.select_related("subscriber").get(user__username=email)
    lessons = list(Lesson.objects.select_related("module__offering").order_by("pk"))
    first, last = lessons[0], lessons[-1]
    for lesson in lessons[: len(lessons) // 3]:  # a third done: done marks in the outlines
        lesson_complete(subscriber=member.subscriber, lesson=lesson)
    offering_path = f"/offerings/{last.module.offering.slug}/"
    pages = {
        "dashboard": "/",
        "offering": offering_path,
        "lesson with outline (first)": f"/offerings/{first.module.offering.slug}/{first.slug}/",
        "lesson with outline (last)": f"{offering_path}{last.slug}/",
    }
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
        f"Member pages: {offerings} offerings x {MODULES} modules x {LESSONS} lessons", rows
    )
    write_results("member_pages", figures)


if __name__ == "__main__":
    main()
