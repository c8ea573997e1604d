"""The builder's pages: every mutation through the services, errors on the card, counts
that do not grow with the flow, permissions and CSRF."""

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.automations.models import Automation, Node, Run, RunStatus
from apps.tags.models import Tag
from tests.automations.helpers import add, build, on_tag, settle, tag, wait, when
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _url(name: str, flow, *args) -> str:
    return reverse(f"admin:{name}", args=[flow.pk, *args])


def _flow_with(steps: int, people: int = 3) -> Automation:
    flow = build(
        triggers=on_tag("Go"),
        steps=[wait(1, "days", "first wait")]
        + [add(f"T{i}") for i in range(steps)]
        + [when({"has": "VIP"}, yes=[add("Y")], no=[wait(2, "hours")])],
    )
    testers = max(1, people // 3)
    crowd = SubscriberFactory.create_batch(people - testers) + [
        SubscriberFactory(is_test=True) for _ in range(testers)
    ]
    for person in crowd:
        tag(person, "Go")
    settle()
    return flow


def _count(client, url) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "name", ["automations_automation_change", "automations_automation_builder"]
)
def test_the_builder_costs_the_same_queries_for_3_and_30_steps(admin_client, name):
    """And for 3 people in the flow (one a test subscriber) as for 15 (five of them)."""
    small, big = _flow_with(3), _flow_with(30, people=15)

    few = _count(admin_client, _url(name, small))
    many = _count(admin_client, _url(name, big))
    dry_few = _count(admin_client, _url(name, small) + "?dry_tags=VIP")
    dry_many = _count(admin_client, _url(name, big) + "?dry_tags=VIP")

    assert many == few
    assert dry_many == dry_few


def test_the_builder_shows_live_counts_and_a_skip_button_for_test_subscribers(admin_client):
    flow = _flow_with(1)

    page = admin_client.get(_url("automations_automation_builder", flow)).content.decode()

    assert '<span class="waiting">3 waiting</span>' in page
    assert page.count("Skip this wait") == 1
    assert "3 people waiting here will move on to the next step (Add tag &#x27;T0&#x27;)" in page


def test_adding_steps_through_the_builder_goes_into_the_right_lane_and_place(admin_client):
    flow = build(triggers=on_tag("Go"), steps=[add("A", "a"), add("C", "c")], status="draft")
    condition_url = _url("automations_builder_add", flow)

    admin_client.post(
        condition_url,
        {"kind": "add_tag", "position": "1", "label": "b", "tag": "B"},
        **HTMX,
    )
    admin_client.post(
        condition_url,
        {
            "kind": "condition",
            "label": "vip?",
            "cond_join": "or",
            "cond_test": ["has", "has_not", "has"],
            "cond_subject": ["VIP", "Banned", ""],
            "cond_value": ["", "", ""],
        },
        **HTMX,
    )
    vip = Node.objects.get(label="vip?")
    response = admin_client.post(
        condition_url,
        {"kind": "end", "parent": str(vip.pk), "branch": "no", "label": "stop"},
        **HTMX,
    )

    assert response.status_code == 200 and b'id="builder"' in response.content
    main = Node.objects.filter(automation=flow, parent=None).order_by("position", "pk")
    assert [n.label for n in main] == ["a", "b", "c", "vip?"]
    assert vip.settings["condition"]["or"][1] == {
        "has_not": vip.settings["condition"]["or"][1]["has_not"]
    }
    assert Node.objects.get(label="stop").branch == "no"


def test_a_bad_step_shows_the_services_message_on_its_card_and_changes_nothing(admin_client):
    flow = build(triggers=on_tag("Go"), steps=[wait(1, "days", "w")], status="draft")
    node = Node.objects.get()

    edit = admin_client.post(
        _url("automations_builder_edit", flow, node.pk),
        {"amount": "2", "unit": "fortnights", "label": "w"},
        **HTMX,
    )
    add_bad = admin_client.post(
        _url("automations_builder_add", flow), {"kind": "add_tag", "tag": " "}, **HTMX
    )

    page = edit.content.decode()
    card = page[page.index(f'id="node-{node.pk}"') :]
    assert "unit: must be one of minutes, hours, days, weeks" in card[: card.index("</article>")]
    assert "Tag: type a tag name" in add_bad.content.decode()
    node.refresh_from_db()
    assert node.settings == {"amount": 1, "unit": "days"}
    assert Node.objects.count() == 1


def test_a_refused_condition_creates_none_of_the_tags_it_named(admin_client):
    flow = build(triggers=on_tag("Go"), steps=[], status="draft")
    tags_before = set(Tag.objects.values_list("name", flat=True))

    refused = admin_client.post(
        _url("automations_builder_add", flow),
        {
            "kind": "condition",
            "cond_join": "and",
            "cond_test": ["has", "equals"],
            "cond_subject": ["Brand New Typo", "plan"],
            "cond_value": ["", ""],  # equals needs a value: the service refuses the step
        },
        **HTMX,
    )
    torn = admin_client.post(
        _url("automations_builder_add", flow),
        {"kind": "condition", "cond_test": ["has", "has"], "cond_subject": ["Other New"]},
        **HTMX,
    )

    assert refused.status_code == 200 and torn.status_code == 200
    assert "every row needs its test, subject and value boxes" in torn.content.decode()
    assert set(Tag.objects.values_list("name", flat=True)) == tags_before
    assert not Node.objects.filter(automation=flow).exists()


def test_deleting_a_step_moves_the_people_waiting_there(admin_client):
    flow = _flow_with(1)
    first = Node.objects.get(automation=flow, label="first wait")

    admin_client.post(_url("automations_builder_delete", flow, first.pk), **HTMX)

    assert not Node.objects.filter(pk=first.pk).exists()
    assert set(
        Run.objects.filter(automation=flow).values_list("current_node__label", flat=True)
    ) == {"add T0"}


def test_entry_status_and_reentry_go_through_the_services(admin_client):
    flow = build(triggers=[], steps=[add("Done")], status="draft")

    admin_client.post(
        _url("automations_builder_trigger_add", flow), {"event_type": "tag_add", "tag": "Go"}
    )
    bad = admin_client.post(
        _url("automations_builder_trigger_add", flow), {"event_type": "nope"}, **HTMX
    )
    admin_client.post(_url("automations_builder_status", flow), {"status": "live"})
    admin_client.post(_url("automations_builder_status", flow), {"reentry": "once"})
    person = SubscriberFactory()
    tag(person, "Go")
    settle()

    flow.refresh_from_db()
    assert (flow.status, flow.reentry) == ("live", "once")
    assert "unknown event &#x27;nope&#x27;" in bad.content.decode()
    assert Run.objects.get(automation=flow).status == RunStatus.COMPLETED


def test_skip_wait_through_the_builder_and_its_refusal(admin_client):
    flow = build(triggers=on_tag("Go"), steps=[wait(3, "days"), add("Done")])
    tester, person = SubscriberFactory(is_test=True), SubscriberFactory()
    for someone in (tester, person):
        tag(someone, "Go")
    settle()
    runs = {r.subscriber_id: r for r in Run.objects.filter(automation=flow)}

    admin_client.post(_url("automations_builder_skip_wait", flow, runs[tester.pk].pk), **HTMX)
    refused = admin_client.post(
        _url("automations_builder_skip_wait", flow, runs[person.pk].pk), **HTMX
    )
    settle()

    assert Run.objects.get(pk=runs[tester.pk].pk).status == RunStatus.COMPLETED
    assert Run.objects.get(pk=runs[person.pk].pk).status == RunStatus.WAITING
    assert "is not a test subscriber" in refused.content.decode()


def test_a_dry_run_by_email_highlights_the_path_and_says_when_the_email_is_unknown(admin_client):
    flow = build(
        triggers=on_tag("Go"),
        steps=[when({"has": "VIP"}, yes=[add("Y", "yes step")], no=[add("N", "no step")])],
    )
    vip = SubscriberFactory(email="vip@example.com")
    tag(vip, "VIP")
    url = _url("automations_automation_builder", flow)

    found = admin_client.get(url, {"dry_email": "VIP@example.com"}).content.decode()
    missing = admin_client.get(url, {"dry_email": "who@example.com"}).content.decode()

    assert 'on-path" id="node-' in found
    assert found.count(" on-path") == 2 and 'data-label="yes step"' in found
    assert "No subscriber has the email &#x27;who@example.com&#x27;" in missing


def test_typed_tags_follow_the_tag_name_rule_case_and_spacing_aside(admin_client):
    flow = build(
        triggers=on_tag("Go"),
        steps=[when({"has": "VIP Member"}, yes=[add("Y", "yes step")], no=[add("N", "no step")])],
    )
    url = _url("automations_automation_builder", flow)

    typed = admin_client.get(url, {"dry_tags": "  vip   member "}).content.decode()
    unknown = admin_client.get(url, {"dry_tags": "VIP Memberr"}).content.decode()

    assert typed.count(" on-path") == 2 and 'data-label="yes step"' in typed
    assert "No tag is named &#x27;VIP Memberr&#x27;" in unknown


def test_the_template_page_builds_a_draft_for_the_chosen_offering(admin_client):
    from apps.members.models import Operation
    from apps.members.services import endpoint_mint
    from apps.tags.services import tag_get_or_create

    course = weekly_course("Tpl Course")
    for operation, suffix in ((Operation.RELEASE, "Release"), (Operation.UPDATE, "Update")):
        endpoint_mint(
            operation=operation,
            offering=course,
            trigger_tag=tag_get_or_create(name=f"Tpl Course – {suffix}")[0],
        )
    url = reverse("admin:automations_automation_template")

    page = admin_client.get(url)
    response = admin_client.post(url, {"offering": str(course.pk), "name": ""}, follow=True)

    assert b"Tpl Course" in page.content
    flow = Automation.objects.get(name="Tpl Course – Release")
    assert flow.status == "draft"
    assert response.redirect_chain[-1][0].endswith(f"/{flow.pk}/change/")


def test_builder_pages_need_change_permission_and_a_csrf_token(client):
    flow = build(triggers=on_tag("Go"), steps=[add("Done")], status="draft")
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_automation"))
    client.force_login(viewer)

    page = client.get(_url("automations_automation_builder", flow))
    denied = client.post(_url("automations_builder_status", flow), {"status": "live"})
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(User.objects.create_superuser("boss", password="pw"))
    no_token = strict.post(_url("automations_builder_status", flow), {"status": "live"})

    assert page.status_code == 200
    assert denied.status_code == 403 and no_token.status_code == 403
    flow.refresh_from_db()
    assert flow.status == "draft"


def test_an_entry_and_an_event_step_narrowed_to_an_offering_with_a_timeout(admin_client):
    # given
    course = weekly_course("Foundation Course")
    module = course.modules.get(position=2)
    flow = build(triggers=[], steps=[], status="draft")
    page = admin_client.get(_url("automations_automation_builder", flow)).content.decode()
    assert f'value="module:{course.pk}:{module.pk}"' in page

    # when: an "Access granted, only for the Foundation Course" entry and an event step
    admin_client.post(
        _url("automations_builder_trigger_add", flow),
        {"event_type": "access_granted", "place": f"offering:{course.pk}"},
    )
    admin_client.post(
        _url("automations_builder_add", flow),
        {
            "kind": "event",
            "label": "module 2 out",
            "event_type": "module_released",
            "place": f"module:{course.pk}:{module.pk}",
            "timeout_amount": "10",
            "timeout_unit": "days",
            "on_timeout": "exit",
        },
        **HTMX,
    )
    bad = admin_client.post(
        _url("automations_builder_trigger_add", flow),
        {"event_type": "form_subscribe", "place": f"offering:{course.pk}"},
        **HTMX,
    )

    # then
    assert flow.triggers.get().params == {"offering_id": course.pk}
    step = Node.objects.get(label="module 2 out")
    assert step.settings == {
        "event_type": "module_released",
        "offering_id": course.pk,
        "module_id": module.pk,
        "timeout": {"amount": 10, "unit": "days"},
        "on_timeout": "exit",
    }
    page = admin_client.get(_url("automations_automation_builder", flow)).content.decode()
    assert "Access granted for Foundation Course" in page
    assert (
        "Wait for: Module released for Foundation Course › Module 2, at most 10 days then "
        "exit the automation" in page
    )
    assert "cannot be narrowed by offering_id" in bad.content.decode()


def test_the_wait_warning_limit_is_set_in_the_builder_and_a_bad_one_refused(admin_client):
    flow = build(triggers=[], steps=[add("Done")], status="draft")

    admin_client.post(
        _url("automations_builder_status", flow), {"reentry": "once", "wait_warn_days": "14"}
    )
    flow.refresh_from_db()
    assert (flow.reentry, flow.wait_warn_days) == ("once", 14)

    bad = admin_client.post(
        _url("automations_builder_status", flow),
        {"reentry": "once", "wait_warn_days": "-2"},
        **HTMX,
    )
    flow.refresh_from_db()
    assert flow.wait_warn_days == 14
    assert "Warn after days must be between 1 and" in bad.content.decode()

    admin_client.post(
        _url("automations_builder_status", flow), {"reentry": "once", "wait_warn_days": ""}
    )
    flow.refresh_from_db()
    assert flow.wait_warn_days is None
