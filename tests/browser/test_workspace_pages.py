"""The tag map, the subscriber timeline and the admin's health block, as staff use them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.crm.events import event_record
from apps.crm.models import EmailMessage
from tests.crm.test_timeline import _history
from tests.factories import SubscriberFactory
from tests.tags.test_tagmap import course_complete_setup

pytestmark = pytest.mark.django_db(transaction=True)


def _login(page, live_server):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def _dark(page):
    page.emulate_media(color_scheme="dark")
    page.evaluate("localStorage.setItem('theme', 'dark')")
    page.reload()


def test_the_tag_map_shows_what_adds_course_complete_what_starts_on_it_and_its_twins(
    live_server, page, screenshot, admin_user
):
    course_complete_setup()
    _login(page, live_server)

    page.goto(f"{live_server.url}/admin/tags/tag/")
    page.click("#tag-map-link")
    row = page.locator("tr.tag-row[data-tag='Course Complete']")
    row.wait_for()
    assert "completion tag of lesson 'Final lesson'" in row.locator("td.adds").inner_text()
    assert "entry trigger of 'Course wrap-up'" in row.locator("td.needs").inner_text()
    warnings = row.locator("td.warnings").inner_text()
    assert "Looks like 'Course Compelte'" in warnings
    assert "Looks like 'course-complete'" in warnings
    assert page.locator("tr.tag-row[data-tag='Course Compelte'].has-warning").count() == 1
    screenshot("tag-map")
    _dark(page)
    screenshot("tag-map-dark")

    with page.expect_download() as download:
        page.click("#tag-map-csv")
    assert download.value.suggested_filename == "tag-map.csv"


def test_the_subscriber_page_shows_the_run_path_beside_access_and_progress(
    live_server, page, screenshot, admin_user
):
    person = SubscriberFactory(email="mia@example.com", first_name="Mia")
    _history(person)
    _login(page, live_server)

    page.goto(f"{live_server.url}/admin/crm/subscriber/{person.pk}/change/")
    run = page.locator("#timeline li.kind-run").first
    assert "Send the gold welcome" in run.inner_text()
    assert "Yes path" in run.inner_text()
    assert "Tag added: VIP" in page.locator("#timeline").inner_text()
    panels = page.locator("#subscriber-panels").inner_text()
    assert "Foundation Course" in panels and "lessons 1/6" in panels
    timeline_box = page.locator("#timeline").bounding_box()
    panels_box = page.locator("#subscriber-panels").bounding_box()
    assert panels_box["x"] > timeline_box["x"] + timeline_box["width"] - 1  # beside, not below
    screenshot("subscriber-timeline")
    _dark(page)
    screenshot("subscriber-timeline-dark")


def test_the_index_shows_health_and_each_figure_opens_its_list(
    live_server, page, screenshot, admin_user, no_kick
):
    person = SubscriberFactory()
    event_record(subscriber_id=person.pk, type="subscriber_activate", payload={})
    for n in range(2):
        EmailMessage.objects.create(
            subscriber=person,
            key=f"t:{n}",
            kind="system",
            to_email=person.email,
            subject=f"Welcome {n}",
            body_text="x",
            status="failed",
            error="SMTP 550",
        )
    EmailMessage.objects.filter(key="t:0").update(created_at=timezone.now() - timedelta(days=3))
    _login(page, live_server)

    page.goto(f"{live_server.url}/admin/")
    health = page.locator("#health")
    assert "Failed emails (last 24 h)" in health.inner_text()
    screenshot("admin-health")
    _dark(page)
    screenshot("admin-health-dark")

    page.locator("#health tr", has_text="Failed emails").locator("a").click()
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 1
    assert "Welcome 1" in page.locator("#result_list").inner_text()
