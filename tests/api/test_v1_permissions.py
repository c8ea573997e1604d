"""/api/v1/ checks Django permissions on every route, not just "is staff": the matrix below
is every route and method × {no permission, view only, full} for a staff user, and the four
abuses a security probe found (H1) each get 403 now."""

import pytest
from rest_framework.authtoken.models import Token

from apps.api.urls import router
from apps.automations.models import Automation, AutomationStatus
from apps.automations.portable import SCHEMA, VERSION
from apps.crm.models import EmailMessage, Event
from apps.members.models import EndpointStatus, Member, Operation, WebhookEndpoint
from apps.members.services import endpoint_mint, operation_run
from apps.offerings.models import AccessGrant
from tests.automations.helpers import build, on_tag, settle, tag, wait
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course
from tests.staff import FULL, NONE, VIEW, staff_user

pytestmark = pytest.mark.django_db

READ = {NONE: 403, VIEW: 200, FULL: 200}


def _write(full: int) -> dict:
    return {NONE: 403, VIEW: 403, FULL: full}


# (route name, method): (path, expected status per level). Paths name objects by key; the
# fixture below makes them.
MATRIX = {
    ("api-root", "get"): ("", {NONE: 200, VIEW: 200, FULL: 200}),
    ("offering-list", "get"): ("offerings/", READ),
    ("offering-detail", "get"): ("offerings/{offering}/", READ),
    ("member-list", "get"): ("members/", READ),
    ("member-detail", "get"): ("members/{member}/", READ),
    ("member-access", "get"): ("members/{member}/access/", READ),
    ("grant-list", "get"): ("grants/", READ),
    ("grant-detail", "get"): ("grants/{grant}/", READ),
    ("automation-list", "get"): ("automations/", READ),
    ("automation-list", "post"): ("automations/", _write(201)),
    ("automation-detail", "get"): ("automations/{automation}/", READ),
    ("automation-detail", "put"): ("automations/{idle_automation}/", _write(200)),
    ("automation-status", "post"): ("automations/{automation}/status/", _write(200)),
    ("run-list", "get"): ("runs/", READ),
    ("run-detail", "get"): ("runs/{run}/", READ),
    ("webhook-endpoint-list", "get"): ("webhook-endpoints/", READ),
    ("webhook-endpoint-list", "post"): ("webhook-endpoints/", _write(201)),
    ("webhook-endpoint-detail", "get"): ("webhook-endpoints/{endpoint}/", READ),
    ("webhook-endpoint-rotate", "post"): ("webhook-endpoints/{endpoint}/rotate/", _write(200)),
    ("webhook-endpoint-revoke", "post"): ("webhook-endpoints/{endpoint}/revoke/", _write(200)),
    ("email-list", "get"): ("emails/", READ),
    ("email-detail", "get"): ("emails/{email}/", READ),
    ("event-list", "get"): ("events/", READ),
    ("event-detail", "get"): ("events/{event}/", READ),
}


def _bodies(objects) -> dict:
    document = {
        "schema": SCHEMA,
        "version": VERSION,
        "name": "Imported",
        "triggers": [{"event_type": "tag_add", "tag": "Go"}],
        "steps": [{"kind": "end", "settings": {}}],
    }
    return {
        ("automation-list", "post"): document,
        ("automation-detail", "put"): {**document, "name": "Idle"},
        ("automation-status", "post"): {"status": "paused"},
        ("webhook-endpoint-list", "post"): {
            "operation": "release",
            "offering": objects["offering"],
        },
    }


@pytest.fixture
def objects():
    course = weekly_course()
    operation_run(operation=Operation.RELEASE, offering=course, email="m@example.com", source="t")
    flow = build(triggers=on_tag("Go"), steps=[wait(1, "days")])
    tag(SubscriberFactory(), "Go")
    settle()
    member = Member.objects.get()
    EmailMessage.objects.create(
        subscriber=member.subscriber,
        key="test:welcome",
        kind="system",
        to_email=member.subscriber.email,
        subject="Welcome",
        body_text="Set your password: https://example.com/set/secret-token/",
    )
    return {
        "offering": course.pk,
        "member": member.pk,
        "grant": AccessGrant.objects.get().pk,
        "automation": flow.pk,
        "idle_automation": build(triggers=on_tag("Idle"), steps=[wait(1, "days")]).pk,
        "run": flow.runs.get().pk,
        "endpoint": endpoint_mint(operation=Operation.RELEASE, offering=course).pk,
        "email": EmailMessage.objects.get().pk,
        "event": Event.objects.order_by("pk").first().pk,
    }


def _call(client, user, method: str, path: str, body=None):
    token = Token.objects.get_or_create(user=user)[0]
    return getattr(client, method)(
        f"/api/v1/{path}",
        body or {},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )


def test_the_matrix_names_every_route_and_method():
    # given every route the router serves, with the methods it answers
    routes = {
        (pattern.name, method)
        for pattern in router.urls
        if pattern.name and not str(pattern.pattern).endswith("\\.(?P<format>[a-z0-9]+)/?$")
        for method in getattr(pattern.callback, "actions", {"get": "root"})
        # DRF adds HEAD (as GET) to a route's actions once it has been called
        if method != "head"
    }
    # then the matrix has a row for each, and no row for a route that does not exist
    assert routes == set(MATRIX)


@pytest.mark.parametrize("level", [NONE, VIEW, FULL])
@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[1].upper()} {r[0]}")
def test_every_route_checks_django_permissions(client, objects, route, level):
    # given a staff user at this level
    user = staff_user(f"staff-{level}", level)
    path, expected = MATRIX[route]
    # when they call the route
    response = _call(client, user, route[1], path.format(**objects), _bodies(objects).get(route))
    # then they get what the level allows, and a refusal says what is missing
    assert response.status_code == expected[level], response.content
    if response.status_code == 403:
        assert response.json()["error"] == "permission_denied"
        assert "permission" in response.json()["message"]


def test_a_token_of_a_non_staff_user_is_refused_even_with_permissions(client, objects):
    user = staff_user("not-staff", FULL)
    user.is_staff = False
    user.save()
    assert _call(client, user, "get", "offerings/").status_code == 403


# The four H1 abuses: a staff user holding only "view subscriber".


@pytest.fixture
def viewer_of_subscribers():
    return staff_user("viewer", perms=["crm.view_subscriber"])


def test_h1_listing_release_urls_and_minting_one_is_refused(client, objects, viewer_of_subscribers):
    listed = _call(client, viewer_of_subscribers, "get", "webhook-endpoints/")
    minted = _call(
        client,
        viewer_of_subscribers,
        "post",
        "webhook-endpoints/",
        {"operation": "release", "offering": objects["offering"]},
    )
    assert (listed.status_code, minted.status_code) == (403, 403)
    assert WebhookEndpoint.objects.count() == 1


def test_h1_rotating_the_live_release_endpoint_is_refused(client, objects, viewer_of_subscribers):
    endpoint = WebhookEndpoint.objects.get()
    response = _call(
        client, viewer_of_subscribers, "post", f"webhook-endpoints/{endpoint.pk}/rotate/"
    )
    assert response.status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.rotated_at is None and endpoint.status == EndpointStatus.ACTIVE


def test_h1_pausing_an_automation_is_refused(client, objects, viewer_of_subscribers):
    path = f"automations/{objects['automation']}/status/"
    response = _call(client, viewer_of_subscribers, "post", path, {"status": "paused"})
    assert response.status_code == 403
    assert Automation.objects.get(pk=objects["automation"]).status == AutomationStatus.LIVE


def test_h1_reading_the_outbox_bodies_is_refused(client, objects, viewer_of_subscribers):
    listed = _call(client, viewer_of_subscribers, "get", "emails/")
    one = _call(client, viewer_of_subscribers, "get", f"emails/{objects['email']}/")
    assert (listed.status_code, one.status_code) == (403, 403)
    assert "secret-token" not in listed.content.decode() + one.content.decode()


# Finer than the model: URLs and bodies need rights of their own.


def test_viewing_endpoints_hides_their_urls_without_the_url_permission(client, objects):
    viewer = staff_user("endpoint-viewer", perms=["members.view_webhookendpoint"])
    holder = staff_user(
        "url-holder",
        perms=["members.view_webhookendpoint", "members.view_webhookendpoint_url"],
    )
    hidden = _call(client, viewer, "get", "webhook-endpoints/").json()["results"]
    shown = _call(client, holder, "get", "webhook-endpoints/").json()["results"]
    assert [e["url"] for e in hidden] == [None]
    assert "/hooks/in/" in shown[0]["url"]


def test_the_outbox_hides_bodies_without_the_body_permission(client, objects):
    viewer = staff_user("outbox-viewer", perms=["crm.view_emailmessage"])
    reader = staff_user(
        "body-reader", perms=["crm.view_emailmessage", "crm.view_emailmessage_body"]
    )
    hidden = _call(client, viewer, "get", f"emails/{objects['email']}/").json()
    shown = _call(client, reader, "get", f"emails/{objects['email']}/").json()
    assert hidden["body_text"] is None and hidden["subject"] == "Welcome"
    assert "secret-token" in shown["body_text"]


def test_change_without_the_finer_right_cannot_mint_rotate_or_revoke(client, objects):
    # given a user who may change endpoints (their label) but holds no capability right
    editor = staff_user(
        "editor", perms=["members.view_webhookendpoint", "members.change_webhookendpoint"]
    )
    pk = objects["endpoint"]
    # then each capability is refused
    assert [
        _call(client, editor, "post", path, body).status_code
        for path, body in [
            ("webhook-endpoints/", {"operation": "release", "offering": objects["offering"]}),
            (f"webhook-endpoints/{pk}/rotate/", None),
            (f"webhook-endpoints/{pk}/revoke/", None),
        ]
    ] == [403, 403, 403]
