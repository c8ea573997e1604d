"""The automation builder, used the way a creator uses it: the guide's examples built from an
empty automation with the mouse and keyboard only, switched live, and dry-run."""

import pytest
from django.urls import reverse

from apps.automations.models import Automation, Node, Run, RunStatus
from tests.automations.helpers import settle, tag
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _login(page, live_server):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")


def _new_automation(page, live_server, name: str) -> Automation:
    page.goto(f"{live_server.url}/admin/automations/automation/add/")
    page.fill("#id_name", name)
    page.click("input[name=_continue]")
    page.wait_for_selector("#builder")
    return Automation.objects.get(name=name)


def _entry(page, tag_name: str):
    page.click(".add-entry summary")
    page.fill(".add-entry input[name=tag]", tag_name)
    page.click(".add-entry button[type=submit]")
    page.wait_for_selector(f".card.entry .trigger:has-text('{tag_name}')")


def _add_step(page, plus: str, kind: str, label: str, **fields):
    """Click a "+", pick the kind, fill the form, add; wait for the new card."""
    slot = page.locator(plus).locator("xpath=..")
    slot.locator(".plus").click()
    slot.locator(f".picker [data-kind={kind}]").click()
    form = slot.locator("form.new-step")
    form.locator("input[name=label]").fill(label)
    for name, value in fields.items():
        form.locator(f"[name={name}]").first.fill(value)
    form.locator("button[type=submit]").click()
    page.wait_for_selector(f".card[data-label='{label}']")
    return Node.objects.get(automation__isnull=False, label=label)


def _branch_plus(node: Node, branch: str) -> str:
    return f"#node-{node.pk} + .branches > .branch.{branch} > .lane > .slot > .plus"


MAIN_END = ".canvas > .lane > .slot:last-child > .plus"


def test_the_vip_example_built_in_the_builder_goes_live_and_a_vip_takes_the_yes_path(
    live_server, page, screenshot, admin_user
):
    # given: an empty automation, built through the UI alone
    _login(page, live_server)
    flow = _new_automation(page, live_server, "Course Completion – VIP")
    _entry(page, "Course Complete")
    condition = _add_step(page, MAIN_END, "condition", "has VIP Member?", cond_subject="VIP Member")
    _add_step(
        page,
        _branch_plus(condition, "yes"),
        "send_email",
        "VIP email",
        subject="Your VIP certificate",
        body="Hi {{ subscriber.first_name }}, here is your VIP certificate.",
    )
    _add_step(
        page,
        _branch_plus(condition, "no"),
        "send_email",
        "Standard email",
        subject="Your certificate",
        body="Hi {{ subscriber.first_name }}, here is your certificate.",
    )
    page.click(".segmented button[data-status=live]")
    page.wait_for_selector(".segmented button.current[data-status=live]")
    screenshot("builder")
    page.emulate_media(color_scheme="dark")
    screenshot("builder-dark")
    page.emulate_media(color_scheme="light")

    # when: a test subscriber who is a VIP completes the course
    student = SubscriberFactory(email="vip@example.com", first_name="Vic", is_test=True)
    tag(student, "VIP Member")
    tag(student, "Course Complete")
    settle()

    # then: the run log on the subscriber's page shows the Yes path
    flow.refresh_from_db()
    assert flow.status == "live"
    run = Run.objects.get(automation=flow, subscriber=student)
    assert run.status == RunStatus.COMPLETED
    page.goto(live_server.url + reverse("admin:crm_subscriber_change", args=[student.pk]))
    timeline = page.locator("#timeline").inner_text()
    assert "has VIP Member? — Branched → Yes path" in timeline
    assert "VIP email — Passed" in timeline
    assert "Standard email" not in timeline
    screenshot("builder-subscriber-run-log")


def test_the_multi_level_example_dry_runs_three_subscribers_down_three_paths(
    live_server, page, screenshot, admin_user
):
    _login(page, live_server)
    _new_automation(page, live_server, "Assessment – Tracks")
    _entry(page, "Assessment Complete")
    advanced = _add_step(page, MAIN_END, "condition", "Advanced?", cond_subject="Advanced Level")
    _add_step(page, _branch_plus(advanced, "yes"), "add_tag", "add Advanced", tag="Advanced Track")
    middle = _add_step(
        page,
        _branch_plus(advanced, "no"),
        "condition",
        "Intermediate?",
        cond_subject="Intermediate Level",
    )
    _add_step(
        page, _branch_plus(middle, "yes"), "add_tag", "add Intermediate", tag="Intermediate Track"
    )
    _add_step(page, _branch_plus(middle, "no"), "add_tag", "add Beginner", tag="Beginner Track")
    people = {
        "adv@example.com": ["Advanced Level"],
        "mid@example.com": ["Intermediate Level"],
        "new@example.com": [],
    }
    for email, tags in people.items():
        person = SubscriberFactory(email=email)
        for name in tags:
            tag(person, name)

    paths = {}
    for email in people:
        page.fill(".dry-run input[name=dry_email]", email)
        page.click(".dry-run button[type=submit]")
        page.wait_for_selector(f".dry-banner:has-text('{email}')")
        # The banner comes first in the page: wait until the page (or htmx's swap) is whole
        # before reading the highlighted cards.
        page.wait_for_load_state("load")
        page.wait_for_function(
            "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
        )
        paths[email] = [
            card.get_attribute("data-label") for card in page.locator(".card.on-path").all()
        ]
        if email == "mid@example.com":
            screenshot("dry-run")

    assert paths == {
        "adv@example.com": ["Advanced?", "add Advanced"],
        "mid@example.com": ["Advanced?", "Intermediate?", "add Intermediate"],
        "new@example.com": ["Advanced?", "Intermediate?", "add Beginner"],
    }
    assert "condition not met: No" in page.locator(f"#node-{advanced.pk} .dry-note").inner_text()


def test_an_entry_for_one_offering_and_a_timed_event_step_built_with_the_mouse(
    live_server, page, screenshot, admin_user
):
    from tests.offerings.helpers import weekly_course

    # given
    course = weekly_course("Foundation Course")
    _login(page, live_server)
    flow = _new_automation(page, live_server, "Welcome to Foundation")

    # when: "Access granted, only for the Foundation Course", then a step that waits at most
    # 3 days for module 2 and exits if it never comes
    page.click(".add-entry summary")
    page.select_option(".add-entry select[name=event_type]", "access_granted")
    page.select_option(".add-entry select[name=place]", label="only for Foundation Course")
    page.click(".add-entry button[type=submit]")
    page.wait_for_selector(".card.entry .trigger:has-text('Access granted for Foundation')")
    slot = page.locator(MAIN_END).locator("xpath=..")
    slot.locator(".plus").click()
    slot.locator(".picker [data-kind=event]").click()
    form = slot.locator("form.new-step")
    form.locator("input[name=label]").fill("module 2 out")
    form.locator("select[name=event_type]").select_option("module_released")
    form.locator("select[name=place]").select_option(label="Foundation Course › Module 2")
    form.locator("input[name=timeout_amount]").fill("3")
    form.locator("select[name=on_timeout]").select_option("exit")
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".card[data-label='module 2 out']")
    screenshot("builder-offering-filter")

    # then
    module = course.modules.get(position=2)
    assert flow.triggers.get().params == {"offering_id": course.pk}
    assert Node.objects.get(label="module 2 out").settings == {
        "event_type": "module_released",
        "offering_id": course.pk,
        "module_id": module.pk,
        "timeout": {"amount": 3, "unit": "days"},
        "on_timeout": "exit",
    }
    card = page.locator(".card[data-label='module 2 out']").inner_text()
    assert "at most 3 days then exit the automation" in card
