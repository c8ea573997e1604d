import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.automations.models import Automation, Node, Run, RunStatus
from tests.automations.helpers import add, build, on_tag, settle, tag, wait, when
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def _queries(client, url) -> tuple[int, bytes]:
    client.get(url)  # warm per-process caches (content types) so only the page is counted
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:1000]
    return len(ctx.captured_queries), response.content


def _grow(automation_count: int, steps: int, people: int) -> Automation:
    flow = None
    for _ in range(automation_count):
        flow = build(
            triggers=on_tag("Go"),
            steps=[wait(1, "days")]
            + [add(f"T{i}") for i in range(steps)]
            + [when({"has": "VIP"}, yes=[add("Y")], no=[add("N")])],
        )
    for person in SubscriberFactory.create_batch(people):
        tag(person, "Go")
    settle()
    return flow


@pytest.mark.parametrize(
    "url_name", ["admin:automations_automation_changelist", "admin:automations_run_changelist"]
)
def test_list_pages_do_not_grow_with_rows(admin_client, url_name):
    _grow(2, 2, 3)
    few, _ = _queries(admin_client, reverse(url_name))

    _grow(6, 2, 15)
    many, _ = _queries(admin_client, reverse(url_name))

    assert many == few


def test_the_automation_page_does_not_grow_with_steps_and_shows_live_counts(admin_client):
    small = _grow(1, 1, 2)
    few, _ = _queries(admin_client, reverse("admin:automations_automation_change", args=[small.pk]))

    big = _grow(1, 12, 9)
    many, content = _queries(
        admin_client, reverse("admin:automations_automation_change", args=[big.pk])
    )

    assert many == few
    page = content.decode()
    assert 'id="builder"' in page
    assert '<span class="waiting">9 waiting</span>' in page  # nine people wait in the delay


def test_the_list_shows_counts_and_engine_health(admin_client):
    flow = _grow(1, 1, 4)

    response = admin_client.get(reverse("admin:automations_automation_changelist"))

    row = next(a for a in response.context["cl"].result_list if a.pk == flow.pk)
    assert (row.entered, row.active, row.completed) == (4, 4, 0)
    assert b"sweep lag" in response.content


def test_adding_a_step_with_bad_settings_shows_the_error_on_the_step(admin_client):
    # The builder is the one editor: its "+" form, without htmx, answers with the page.
    flow = build(triggers=[], steps=[], status="draft")
    url = reverse("admin:automations_builder_add", args=[flow.pk])
    data = {"kind": "delay", "amount": "2", "unit": "fortnights", "position": "0"}

    response = admin_client.post(url, data, follow=True)

    assert response.status_code == 200
    assert "unit: must be one of minutes, hours, days, weeks" in response.content.decode()
    assert not Node.objects.exists()


def test_adding_and_deleting_steps_through_the_admin(admin_client):
    flow = build(triggers=on_tag("Go"), steps=[wait(3, "days"), add("After")])
    person = SubscriberFactory()
    tag(person, "Go")
    settle()
    delay = Node.objects.get(kind="delay")
    after = Node.objects.get(kind="add_tag")
    url = reverse("admin:automations_builder_delete", args=[flow.pk, delay.pk])

    response = admin_client.post(url, follow=True)

    assert response.status_code == 200
    assert "1 run(s) waiting at a deleted step moved on" in response.content.decode()
    assert not Node.objects.filter(pk=delay.pk).exists()
    assert Run.objects.get().current_node_id == after.pk


def test_going_live_from_the_admin_releases_queued_runs(admin_client):
    flow = build(triggers=on_tag("Go"), steps=[add("Done")], status="paused")
    tag(SubscriberFactory(), "Go")
    settle()
    url = reverse("admin:automations_builder_status", args=[flow.pk])

    admin_client.post(url, {"status": "live"})
    settle()

    assert Run.objects.get().status == RunStatus.COMPLETED


def test_runs_show_their_step_log_and_can_be_exited(admin_client):
    flow = build(triggers=on_tag("Go"), steps=[add("A", "first"), wait(1, "days")])
    person = SubscriberFactory()
    tag(person, "Go")
    settle()
    run = Run.objects.get(automation=flow)

    page = admin_client.get(reverse("admin:automations_run_change", args=[run.pk]))
    exited = admin_client.post(
        reverse("admin:automations_run_changelist"),
        {"action": "exit_runs", "_selected_action": [run.pk]},
        follow=True,
    )
    subscriber_page = admin_client.get(reverse("admin:crm_subscriber_change", args=[person.pk]))

    assert b"first" in page.content
    assert b"Exited 1 run(s)" in exited.content
    run.refresh_from_db()
    assert run.status == RunStatus.EXITED
    assert flow.name.encode() in subscriber_page.content


def test_an_automation_people_are_in_is_not_deleted(admin_client):
    flow = build(triggers=on_tag("Go"), steps=[wait(1, "days")])
    tag(SubscriberFactory(), "Go")
    settle()

    single = admin_client.post(
        reverse("admin:automations_automation_delete", args=[flow.pk]), {"post": "yes"}
    )
    bulk = admin_client.post(
        reverse("admin:automations_automation_changelist"),
        {"action": "delete_selected", "_selected_action": [flow.pk], "post": "yes"},
    )

    assert (single.status_code, bulk.status_code) == (403, 403)
    assert Automation.objects.filter(pk=flow.pk).exists()


@pytest.mark.parametrize("status", ["live", "paused", "draft"])
def test_the_add_automation_form_honours_its_status(admin_client, status):
    # when
    response = admin_client.post(
        reverse("admin:automations_automation_add"),
        {"name": f"Welcome {status}", "status": status, "reentry": "after_finish"},
    )

    # then
    assert response.status_code == 302, response.content[:2000]
    assert Automation.objects.get(name=f"Welcome {status}").status == status
