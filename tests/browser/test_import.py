"""Importing a 5,000-line CSV from the admin, the way a creator does, with a real worker."""

import contextlib

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connection
from playwright.sync_api import Error as PlaywrightError

from apps.core import oncommit
from apps.crm.imports import leases as import_leases
from apps.crm.models import Subscriber
from apps.crm.services import custom_field_create
from apps.tags.models import Tagging
from config.celery import app as celery_app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

ROWS = 5000
BAD_LINES = {
    1001: "line 1001: 'not-an-email' is not a valid email address.",
    2502: "line 2502: member4@example.com is already on line 4; only that line is imported.",
    4003: "line 4003: the first name is 300 characters long; at most 255 are allowed.",
}


def _close_db(**_kwargs):
    # The worker thread's own connection would outlive the test and keep the test database
    # from being dropped at the end of the session.
    connection.close()


@pytest.fixture
def worker(monkeypatch):
    """A Celery worker on the real broker; event dispatch stays out of it (not tested here),
    but the import's own dispatch rings it (imports are handed out under a lease)."""
    real = oncommit.on_commit_once
    monkeypatch.setattr(
        oncommit,
        "on_commit_once",
        lambda func: real(func) if func is import_leases.dispatch_kick else None,
    )
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    task_postrun.connect(_close_db, weak=False)
    try:
        with start_worker(
            celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING"
        ) as running:
            yield running
    finally:
        task_postrun.disconnect(_close_db)
        celery_app.conf.task_always_eager = True


@pytest.fixture
def csv_file(tmp_path):
    lines = ["Email,First name,Town,Tags"]
    for line in range(2, ROWS + 2):
        email, name = f"member{line}@example.com", f"Member {line}"
        if line == 1001:
            email = "not-an-email"
        elif line == 2502:
            email = "MEMBER4@example.com"  # line 4 holds member4@example.com already
        elif line == 4003:
            name = "N" * 300
        lines.append(f'{email},{name},Town {line % 7},"Customer; Spring 2026"')
    path = tmp_path / "members.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_5000_line_import_shows_its_progress_its_bad_lines_and_its_summary(
    live_server, page, screenshot, admin_user, worker, csv_file
):
    # given
    custom_field_create(label="City")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")

    # when: upload from the subscriber list
    page.goto(f"{live_server.url}/admin/crm/subscriber/")
    page.click("#import-csv")
    page.set_input_files("#id_file", str(csv_file))
    page.click("#upload")

    # then: the preview guessed three columns; Town is mapped to City by hand
    page.wait_for_selector("#import-mapping")
    assert page.input_value("#column_0") == "email"
    assert page.input_value("#column_1") == "first_name"
    assert page.input_value("#column_2") == "ignore"
    assert page.input_value("#column_3") == "tags"
    page.select_option("#column_2", "field:city")
    page.click("#import-check")
    page.wait_for_selector("#import-errors")
    assert page.input_value("#column_2") == "field:city"
    assert page.inner_text("#import-counts").startswith("4997 of 5000 lines can be imported")
    screenshot("import-preview")

    # when: started, a worker imports while the page polls the status
    percents: list[int] = []

    def polled(response):
        if response.url.endswith("/status/"):
            # The answer to a poll that the reload at the end cut short has no body.
            with contextlib.suppress(PlaywrightError):
                percents.append(response.json()["percent"])

    page.on("response", polled)
    page.click("#import-start")
    page.wait_for_selector("#import-summary", timeout=60_000)

    # then
    assert percents == sorted(percents)
    assert page.get_attribute("#import-progress-bar", "value") == "100"
    assert page.inner_text("#import-percent") == "100 %"
    assert page.inner_text("#summary-created") == "4997"
    assert page.inner_text("#summary-tagged") == "4997"
    assert page.inner_text("#summary-errors") == "3"
    reported = {
        int(row.get_attribute("data-line")): row.inner_text().split("\t", 1)[1]
        for row in page.locator("tr.import-error").all()
    }
    assert reported == BAD_LINES
    screenshot("import-done")
    page.emulate_media(color_scheme="dark")
    screenshot("import-done-dark")

    assert Subscriber.objects.count() == ROWS - 3
    assert Tagging.objects.count() == 2 * (ROWS - 3)
    member = Subscriber.objects.get(email="member4@example.com")
    assert member.first_name == "Member 4"
    assert set(member.taggings.values_list("tag__name", flat=True)) == {"Customer", "Spring 2026"}
    assert member.field_values.get().value == "Town 4"
    assert not Subscriber.objects.filter(first_name="N" * 300).exists()
