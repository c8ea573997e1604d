"""The course player in a real browser: a member going through a course at phone and desktop
widths, staff previewing as a member, and axe-core on every member page."""

import json
import os
import struct
import zlib
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from apps.crm.preferences import preferences_url, unsubscribe_url
from apps.members.models import Operation
from apps.members.services import member_login_ensure, operation_run
from apps.offerings.lessons import lesson_save
from apps.offerings.models import AccessGrant, Lesson, LessonAttachment
from tests.browser.conftest import SCREENSHOTS
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a long member password"
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 860}}
VIMEO = (
    "<p>Watch the welcome, then download the worksheet.</p>"
    '<iframe src="https://player.vimeo.com/video/76979871" width="640" height="360" '
    'title="Welcome video"></iframe>'
)


@pytest.fixture
def course(settings, live_server, tmp_path):
    settings.SITE_URL = live_server.url
    settings.STORAGES = settings.STORAGES | {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        }
    }
    course = weekly_course("Foundation Course")
    course.description = "Six short lessons to set up your practice, one module a week."
    course.image.save("cover.png", ContentFile(_cover_png()), save=False)
    course.save()
    lesson = Lesson.objects.get(title="M1 lesson 2")
    lesson.body = VIMEO
    lesson_save(lesson=lesson, module=lesson.module)
    sheet = LessonAttachment(lesson=lesson, title="Week 1 worksheet")
    sheet.file.save("worksheet.pdf", ContentFile(b"%PDF-1.4"), save=True)
    subscriber = SubscriberFactory(email="mia@example.com", first_name="Mia")
    user = member_login_ensure(subscriber=subscriber, source="test").member.user
    user.set_password(PASSWORD)
    user.save()
    operation_run(
        operation=Operation.RELEASE, offering=course, email=subscriber.email, source="test"
    )
    return course


def _cover_png(width: int = 600, height: int = 260) -> bytes:
    """A small gradient picture for the course card, written without an imaging library."""
    rows = b"".join(
        b"\x00"
        + b"".join(bytes((40 + x * 60 // width, 90 + y * 80 // height, 200)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _log_in(page, live_server):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_email", "mia@example.com")
    page.fill("#id_password", PASSWORD)
    page.click("button[value=password]")
    page.wait_for_selector(".offering")


def _admin_log_in(page, live_server):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_member_continues_completes_and_continues_and_sees_the_outline(
    chromium, live_server, course, width
):
    # given
    context = chromium.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    page.set_default_timeout(20_000)
    granted = AccessGrant.objects.get().granted_at
    _log_in(page, live_server)
    _shot(page, f"player-dashboard-{width}")

    # when: Continue, then Complete and continue
    page.click(".offering a.continue")
    page.wait_for_selector("h1:has-text('M1 lesson 1')")
    page.click("#complete-continue")

    # then: on the next lesson, with the outline's done mark and the locked module's titles
    page.wait_for_selector("h1:has-text('M1 lesson 2')")
    outline = page.locator("nav.outline")
    assert outline.locator("li.outline-lesson.done").all_inner_texts()[0].startswith("M1 lesson 1")
    assert outline.locator("li.outline-lesson.current a").get_attribute("aria-current") == "page"
    locked = outline.locator("li.module[data-module='2']")
    unlock = (granted + timedelta(days=7)).astimezone(timezone.get_current_timezone())
    text = locked.inner_text()
    assert "M2 lesson 1" in text and "M2 lesson 2" in text
    assert f"Opens on {unlock:%A} {unlock.day} {unlock:%B %Y}, {unlock:%H:%M} (UTC)" in text
    _shot(page, f"player-lesson-{width}")
    context.close()


def test_staff_preview_as_a_member_with_tags_sees_exactly_their_open_and_locked_modules(
    live_server, page, course, admin_user
):
    # given: a member holding the base tag and module 3's tag (not module 2's)
    module_three = course.modules.get(position=3)
    _admin_log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/offerings/offering/{course.pk}/change/")

    # when
    box = page.locator("#preview-as-member")
    box.locator(f"input[value='{module_three.access_tag_id}']").check()
    _shot(page, "preview-as-member-admin")
    box.locator("#preview-start").click()

    # then
    page.wait_for_selector("#preview-banner")
    assert "Module 3 Access" in page.inner_text("#preview-banner")
    modules = page.locator("li.module")
    states = {
        modules.nth(i).get_attribute("data-module"): "locked"
        in (modules.nth(i).get_attribute("class") or "")
        for i in range(modules.count())
    }
    assert states == {"1": False, "2": True, "3": False}
    _shot(page, "preview-as-member")
    page.click("text=M3 lesson 1")
    page.click("#complete-continue")
    page.wait_for_selector("text=This is a preview: nothing was saved.")
    page.click("text=End preview")
    page.wait_for_url(f"**/admin/offerings/offering/{course.pk}/change/")


def _axe(page) -> list[dict]:
    # Evaluated through the browser's debugging protocol: a <script> tag added to the page
    # would be refused by the site's Content-Security-Policy, as it should be.
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [v for v in result if v["impact"] in ("critical", "serious")]


def test_axe_core_finds_nothing_critical_or_serious_on_any_member_page(
    live_server, page, course, settings
):
    if not AXE.exists():
        message = "needs axe-core: run `npm ci` (the README's test setup, .ci/run)"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"REQUIRE_SERVICES=1 but this test {message}")
        pytest.skip(message)
    locked = Lesson.objects.get(title="M2 lesson 1")
    first = Lesson.objects.get(title="M1 lesson 1")
    reader = SubscriberFactory(email="a-rather-long-address-for-a-phone@example.com")
    public = [
        "/login/",
        "/password/reset/",
        "/password/reset/sent/",
        "/login/link/bad/token/",
        "/no/such/page/",
        urlsplit(unsubscribe_url(reader)).path,
        urlsplit(preferences_url(reader)).path,
    ]
    members = [
        "/",
        f"/offerings/{course.slug}/",
        f"/offerings/{course.slug}/{first.slug}/",
        f"/offerings/{course.slug}/{locked.slug}/",
        f"/offerings/{course.slug}/no-such-lesson/",
        "/account/",
        "/no-access/",
    ]
    found = {}
    for path in public:
        page.goto(f"{live_server.url}{path}")
        found[path] = _axe(page)
    _log_in(page, live_server)
    for path in members:
        page.goto(f"{live_server.url}{path}")
        found[path] = _axe(page)

    # The unsubscribe page's heading fits a phone screen.
    page.set_viewport_size(WIDTHS["phone"])
    page.goto(f"{live_server.url}{public[5]}")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS["phone"]["width"]
    _shot(page, "unsubscribe-phone")

    serious = {
        path: [(v["id"], v["help"]) for v in items] for path, items in found.items() if items
    }
    assert serious == {}, json.dumps(serious, indent=1)


def test_the_lesson_editor_keeps_a_video_embed_and_warns_about_what_it_removed(
    live_server, page, course, admin_user
):
    # given: a lesson whose stored body has a Vimeo player, and a script pasted in its source
    lesson = Lesson.objects.get(title="M1 lesson 2")
    Lesson.objects.filter(pk=lesson.pk).update(body=VIMEO + "<script>alert(1)</script>")
    _admin_log_in(page, live_server)

    # when: opened in the rich editor and saved as it is
    page.goto(f"{live_server.url}/admin/offerings/lesson/{lesson.pk}/change/")
    page.wait_for_selector(".prose-editor")
    assert page.locator(".prose-editor iframe").count() == 1
    _shot(page, "lesson-editor")
    # Enter in a text field submits with the form's default button, "Save".
    page.focus("#id_title")
    page.keyboard.press("Enter")

    # then: the player survived the editor, the script did not, and the admin says so
    warning = page.wait_for_selector(".messagelist .warning")
    assert "the cleaner removed what lessons may not contain: <script>" in warning.inner_text()
    lesson.refresh_from_db()
    assert 'src="https://player.vimeo.com/video/76979871"' in lesson.body
    assert "<script" not in lesson.body
    _shot(page, "lesson-editor-warning")
