"""Who may see, mint, rotate, revoke and replay in the Webhook Generator: the staff
permissions, one by one."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from apps.members.models import Operation, WebhookEndpoint
from apps.members.services import endpoint_mint
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db
GENERATOR = "admin:members_webhookendpoint_changelist"


@pytest.fixture
def plain_staff(client):
    user = User.objects.create_user("helper", password="pw-helper-123", is_staff=True)
    client.force_login(user)
    return user


def test_staff_without_permissions_cannot_see_mint_rotate_or_revoke(client, plain_staff):
    course = weekly_course()
    endpoint = endpoint_mint(operation=Operation.RELEASE, offering=course)
    secret = endpoint.secret

    assert client.get(reverse(GENERATOR)).status_code == 403
    assert (
        client.post(reverse(GENERATOR), {"operation": "release", "offering": course.pk}).status_code
        == 403
    )
    for name in ("rotate", "revoke"):
        url = reverse(f"admin:members_webhookendpoint_{name}", args=[endpoint.pk])
        assert client.post(url).status_code == 403
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.status, WebhookEndpoint.objects.count()) == (
        secret,
        "active",
        1,
    )


def test_view_permission_shows_the_page_but_minting_needs_add(client, plain_staff):
    plain_staff.user_permissions.add(Permission.objects.get(codename="view_webhookendpoint"))
    course = weekly_course()
    assert client.get(reverse(GENERATOR)).status_code == 200
    assert (
        client.post(reverse(GENERATOR), {"operation": "release", "offering": course.pk}).status_code
        == 403
    )


def test_replaying_calls_needs_the_change_permission(client, plain_staff):
    plain_staff.user_permissions.add(Permission.objects.get(codename="view_webhookcall"))
    page = client.get(reverse("admin:members_webhookcall_changelist"))
    assert page.status_code == 200
    assert b"Replay selected calls" not in page.content
