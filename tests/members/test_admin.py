import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.members.models import CallStatus, EndpointStatus, Operation, WebhookCall, WebhookEndpoint
from apps.members.services import endpoint_mint
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db
GENERATOR = "admin:members_webhookendpoint_changelist"


def test_minting_from_the_generator_page(admin_client):
    course = weekly_course()

    response = admin_client.post(
        reverse(GENERATOR),
        {"operation": "release", "offering": course.pk, "label": "Kit"},
        follow=True,
    )

    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.operation, endpoint.offering) == (Operation.RELEASE, course)
    assert endpoint.url in response.content.decode()


def test_rotate_and_revoke_from_the_generator_page(admin_client, client):
    endpoint = endpoint_mint(operation=Operation.RELEASE, offering=weekly_course())
    old_path = endpoint.path

    admin_client.post(reverse("admin:members_webhookendpoint_rotate", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.path != old_path
    assert client.post(old_path, "{}", content_type="application/json").status_code == 403

    admin_client.post(reverse("admin:members_webhookendpoint_revoke", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.status == EndpointStatus.REVOKED
    assert client.post(endpoint.path, "{}", content_type="application/json").status_code == 410


def test_rotate_needs_a_post(admin_client):
    endpoint = endpoint_mint(operation=Operation.RELEASE, offering=weekly_course())
    secret = endpoint.secret
    admin_client.get(reverse("admin:members_webhookendpoint_rotate", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret == secret


def test_the_generator_page_does_not_grow_with_endpoints_or_calls(admin_client, client):
    course = weekly_course()

    def count():
        admin_client.get(reverse(GENERATOR))
        with CaptureQueriesContext(connection) as ctx:
            admin_client.get(reverse(GENERATOR))
        return len(ctx.captured_queries)

    endpoint_mint(operation=Operation.RELEASE, offering=course)
    few = count()
    for _ in range(6):
        endpoint = endpoint_mint(operation=Operation.UPDATE, offering=course)
        client.post(
            endpoint.path, json.dumps({"email": "a@example.com"}), content_type="application/json"
        )
    assert count() == few


def test_replaying_a_failed_call_from_the_log(
    admin_client, client, django_capture_on_commit_callbacks
):
    endpoint = endpoint_mint(operation=Operation.UPDATE, offering=weekly_course())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            endpoint.path,
            json.dumps({"email": "late@example.com"}),
            content_type="application/json",
        )
    call = WebhookCall.objects.get()
    assert call.status == CallStatus.FAILED
    from tests.factories import SubscriberFactory

    SubscriberFactory(email="late@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:members_webhookcall_changelist"),
            {"action": "replay", "_selected_action": [call.pk]},
            follow=True,
        )

    assert b"Replayed 1 call(s)" in response.content
    call.refresh_from_db()
    assert call.status == CallStatus.DONE


def test_a_call_page_is_read_only_with_its_replay_button(admin_client, client):
    # given: a logged call
    endpoint = endpoint_mint(operation=Operation.UPDATE, offering=weekly_course())
    client.post(
        endpoint.path, json.dumps({"email": "late@example.com"}), content_type="application/json"
    )
    call = WebhookCall.objects.get()
    url = reverse("admin:members_webhookcall_change", args=[call.pk])

    # when
    page = admin_client.get(url)
    posted = admin_client.post(url, {"status": "done", "result": "forged"})

    # then: every field is text, the replay action is a button, and a POST changes nothing
    html = page.content.decode()
    assert page.status_code == 200
    assert "<select" not in html and 'name="status"' not in html and "lease" not in html
    assert 'name="action" value="replay"' in html and "Replay selected calls" in html
    assert posted.status_code == 403
    call.refresh_from_db()
    assert call.result != "forged"
