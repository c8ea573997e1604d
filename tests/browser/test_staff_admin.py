"""The admin as staff meet it: the login locks after too many wrong passwords, says so, and
unlocks when the lock has passed; a Creator sees Tessera's admin with their pages first and
none of the plumbing."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.members.logins import LOGIN_LOCK, LOGIN_MAX_FAILURES
from tests.staff import staff_user

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a long staff password"


def _log_in(page, url, username, password):
    page.goto(f"{url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def test_the_admin_login_locks_after_n_wrong_passwords_and_the_lock_expires(
    live_server, page, screenshot
):
    user = staff_user("creator", role="Creator")
    user.set_password(PASSWORD)
    user.save()

    # given N wrong passwords, each refused as wrong
    for _ in range(LOGIN_MAX_FAILURES):
        _log_in(page, live_server.url, "creator", "not the password")
        assert "Please enter the correct username and password" in page.inner_text(".errornote")

    # when the right password comes next, it is refused with a message saying how long
    _log_in(page, live_server.url, "creator", PASSWORD)
    minutes = int(LOGIN_LOCK.total_seconds() // 60)
    assert page.inner_text(".errornote") == (
        f"Too many failed attempts: logging in is locked for {minutes} more minute(s). "
        "Try again then."
    )
    screenshot("admin-login-locked")

    # then once the lock has passed (the server's clock moved on), the same password works
    with time_machine.travel(timezone.now() + LOGIN_LOCK + timedelta(seconds=5)):
        _log_in(page, live_server.url, "creator", PASSWORD)
        page.wait_for_selector("#site-name")
        assert page.url == f"{live_server.url}/admin/"


def test_a_creator_sees_their_pages_first_and_none_of_the_plumbing(live_server, page, screenshot):
    user = staff_user("creator", role="Creator")
    user.set_password(PASSWORD)
    user.save()

    _log_in(page, live_server.url, "creator", PASSWORD)
    page.wait_for_selector("#content-main .app-work")

    assert page.inner_text("#site-name").strip() == "Tessera"
    sections = page.locator("#content-main div[class^=app-]")
    first = sections.first
    assert first.locator("caption").inner_text().strip().lower() == "your work"
    assert first.locator("th[scope=row]").all_inner_texts() == [
        "Offerings",
        "Automations",
        "Subscribers",
        "Tags",
        "Sequences",
        "Broadcasts",
        "Forms",
        "Email messages",
        "Webhook Generator",
    ]
    main = page.inner_text("#content-main")
    for plumbing in ("Periodic tasks", "Tokens", "Events", "Webhook deliveries", "Webhook calls"):
        assert plumbing not in main
    assert "Plumbing" not in main
    screenshot("admin-creator-home")

    # and a plumbing page itself is refused
    response = page.goto(f"{live_server.url}/admin/django_celery_beat/periodictask/")
    assert response.status == 403
