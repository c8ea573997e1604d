"""A member and a staff user, the way a person uses the pages."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.members.models import Operation, WebhookEndpoint
from apps.members.services import member_login_ensure, operation_run
from apps.offerings.models import AccessGrant
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a long member password"


@pytest.fixture
def enrolled(settings, live_server):
    settings.SITE_URL = live_server.url
    course = weekly_course("Foundation Course")
    subscriber = SubscriberFactory(email="mia@example.com", first_name="Mia")
    login = member_login_ensure(subscriber=subscriber, source="test")
    login.member.user.set_password(PASSWORD)
    login.member.user.save()
    operation_run(
        operation=Operation.RELEASE, offering=course, email=subscriber.email, source="test"
    )
    return course


def test_a_member_logs_in_sees_a_locked_module_completes_a_lesson_and_the_bar_moves(
    live_server, page, screenshot, enrolled
):
    granted = AccessGrant.objects.get().granted_at
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_email", "mia@example.com")
    page.fill("#id_password", PASSWORD)
    page.click("button[value=password]")

    page.wait_for_selector(".offering")
    assert page.inner_text(".offering .percent") == "0 %"
    screenshot("member-dashboard")

    page.click("text=Foundation Course")
    locked = page.locator("li.module[data-module='2']")
    assert "locked" in locked.inner_text()
    unlock = (granted + timedelta(days=7)).astimezone(timezone.get_current_timezone())
    assert f"Opens on {unlock:%A} {unlock.day} {unlock:%B %Y}" in locked.inner_text()
    screenshot("member-offering-locked-module")

    page.click("text=M1 lesson 2")
    page.click("#mark-complete")
    page.wait_for_selector("text=Completed")
    screenshot("member-lesson-completed")

    page.click("text=My courses")
    percent = page.inner_text(".offering .percent")
    assert re.fullmatch(r"\d+ %", percent) and percent != "0 %"
    bar = page.locator(".offering .progress").get_attribute("value")
    assert int(bar) > 0
    screenshot("member-dashboard-progress")


def test_staff_mints_a_release_url_and_sees_it_listed(
    live_server, page, screenshot, enrolled, admin_user
):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/members/webhookendpoint/")

    page.select_option("#id_operation", "release")
    page.select_option("#id_offering", label="Foundation Course")
    page.fill("#id_label", "Kit release")
    page.click("#mint")

    page.wait_for_selector("text=Minted: Kit release")
    endpoint = WebhookEndpoint.objects.get(label="Kit release")
    url_box = page.locator(f"#url-{endpoint.pk}")
    assert url_box.input_value() == endpoint.url
    assert "/hooks/in/" in endpoint.url
    screenshot("webhook-generator")
