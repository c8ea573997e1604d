"""Under the Content-Security-Policy, the pages still work, and the browser reports no
violation: the automation builder (htmx), the Webhook Generator's copy button, the member
pages and a hosted form, each used the way a person uses it."""

import pytest

from apps.crm.models import Form
from apps.members.models import Operation, WebhookEndpoint
from apps.members.services import endpoint_mint, member_login_ensure, operation_run
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a long member password"


@pytest.fixture
def violations(page):
    """The policy's refusals the console reports, and script errors, over the whole test
    (a missing favicon is neither)."""
    seen: list[str] = []

    def console(message) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            seen.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda e: seen.append(f"page error: {e}"))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    return seen


def _admin_login(page, live_server):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_selector("#content-main")


def test_the_builder_and_the_generator_work_under_the_policy(
    live_server, page, screenshot, admin_user, violations, settings
):
    # given: a creator in the admin, with an offering to mint a URL for
    settings.SITE_URL = live_server.url
    course = weekly_course("Foundation Course")
    _admin_login(page, live_server)
    csp = page.goto(f"{live_server.url}/admin/").headers["content-security-policy"]
    assert "script-src 'self'" in csp

    # when: an automation is built through htmx: a picker opened and cancelled, a step added
    page.goto(f"{live_server.url}/admin/automations/automation/add/")
    page.fill("#id_name", "Under the policy")
    page.click("input[name=_continue]")
    page.wait_for_selector("#builder")
    plus = page.locator(".canvas > .lane > .slot:last-child > .plus").locator("xpath=..")
    plus.locator(".plus").click()
    plus.locator(".picker [data-action=slot-cancel]").click()
    page.wait_for_selector(".picker", state="detached")
    plus.locator(".plus").click()
    plus.locator(".picker [data-kind=add_tag]").click()
    form = plus.locator("form.new-step")
    form.locator("input[name=label]").fill("Tag them")
    form.locator("[name=tag]").first.fill("Policy OK")
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".card[data-label='Tag them']")
    screenshot("csp-builder")

    # ... and a Release URL is minted and copied
    endpoint_mint(operation=Operation.RELEASE, offering=course)
    page.goto(f"{live_server.url}/admin/members/webhookendpoint/")
    page.click("button.copy-url")
    page.wait_for_selector("button.copy-url:has-text('Copied')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == WebhookEndpoint.objects.get().url

    # then: the browser refused nothing
    assert violations == []


def test_member_pages_and_a_hosted_form_work_under_the_policy(
    live_server, page, screenshot, violations, settings
):
    # given: an enrolled member and a hosted sign-up form
    settings.SITE_URL = live_server.url
    course = weekly_course("Foundation Course")
    subscriber = SubscriberFactory(email="mia@example.com", first_name="Mia")
    login = member_login_ensure(subscriber=subscriber, source="test")
    login.member.user.set_password(PASSWORD)
    login.member.user.save()
    operation_run(
        operation=Operation.RELEASE, offering=course, email=subscriber.email, source="test"
    )
    form = Form.objects.create(name="Waitlist", title="Join the waitlist")

    # when: the member logs in, opens the course and completes a lesson
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_email", "mia@example.com")
    page.fill("#id_password", PASSWORD)
    page.click("button[value=password]")
    page.wait_for_selector(".offering")
    page.click("text=Foundation Course")
    page.click("text=M1 lesson 2")
    page.click("#mark-complete")
    page.wait_for_selector("text=Completed")
    page.click("text=My courses")
    page.wait_for_selector(".offering .progress")
    screenshot("csp-member-dashboard")

    # ... and someone signs up on the hosted form
    page.goto(f"{live_server.url}/forms/{form.pk}/")
    page.fill("#email", "new@example.com")
    page.click("#form-page button[type=submit]")
    page.wait_for_selector("#form-done")

    # then: every page worked and the browser refused nothing
    assert violations == []
