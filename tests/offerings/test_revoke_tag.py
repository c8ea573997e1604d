"""Tags are permissions: an offering's Revoke Access tag, added by hand, ends the grant at once,
and the dashboard, the lesson pages and the API agree; a new release restores access."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from apps.members.models import Operation
from apps.members.services import member_login_ensure, operation_run
from apps.offerings.models import AccessGrant
from apps.offerings.services import drip_sweep
from tests.automations.helpers import tag, untag
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course
from tests.staff import VIEW, staff_user

pytestmark = pytest.mark.django_db
FC = "Foundation Course"
PASSWORD = "correct horse battery"


@pytest.fixture
def enrolled(client):
    """A logged-in member with access to the Foundation Course, and a staff API token."""
    course = weekly_course(FC)
    subscriber = SubscriberFactory(email="mia@example.com")
    member = member_login_ensure(subscriber=subscriber, source="test").member
    member.user.set_password(PASSWORD)
    member.user.save()
    operation_run(operation=Operation.RELEASE, offering=course, email=subscriber.email, source="t")
    client.force_login(member.user)
    token = Token.objects.create(user=staff_user("api", VIEW)).key
    return course, subscriber, member, token


def _views(client, course, member, token) -> tuple[bool, int, bool]:
    """(on the dashboard, the first lesson's status code, the API says active)."""
    dashboard = client.get(reverse("members:dashboard")).content.decode()
    lesson = course.modules.get(position=1).lessons.first()
    page = client.get(reverse("members:lesson", args=[course.slug, lesson.slug]))
    access = client.get(
        f"/api/v1/members/{member.pk}/access/", HTTP_AUTHORIZATION=f"Token {token}"
    ).json()
    return (
        f"/offerings/{course.slug}/" in dashboard,
        page.status_code,
        access["results"][0]["active"],
    )


def test_a_hand_added_revoke_tag_ends_the_grant_everywhere_at_once(client, enrolled):
    course, subscriber, member, token = enrolled
    assert _views(client, course, member, token) == (True, 200, True)

    # when: a creator adds the Revoke Access tag by hand (no webhook, no Update User)
    tag(subscriber, f"{FC} – Revoke Access")

    # then: in the same transaction the grant ended; every view agrees
    grant = AccessGrant.objects.get(subscriber=subscriber, offering=course)
    assert grant.revoked_at is not None and grant.next_release_at is None
    assert subscriber.events.filter(type="access_revoked").get().payload["by"] == "revoke tag"
    assert _views(client, course, member, token) == (False, 403, False)


def test_removing_the_tag_and_a_new_release_restore_access_with_the_drip_going_on(client, enrolled):
    course, subscriber, member, token = enrolled
    start = AccessGrant.objects.get(subscriber=subscriber).granted_at
    with time_machine.travel(timezone.now(), tick=False) as clock:
        clock.shift(timedelta(days=3))
        tag(subscriber, f"{FC} – Revoke Access")
        clock.shift(timedelta(days=5))  # module 2 came due (day 7) while revoked
        drip_sweep()
        assert f"{FC} – Module 2 Access" not in set(
            subscriber.taggings.values_list("tag__name", flat=True)
        )

        # when: the tag is removed, then a new release runs
        untag(subscriber, f"{FC} – Revoke Access")
        assert _views(client, course, member, token)[0] is False  # removing alone is not a grant
        operation_run(
            operation=Operation.RELEASE, offering=course, email=subscriber.email, source="again"
        )

    # then: access is back, the drip counts from the first grant (module 2 opens at once)
    grant = AccessGrant.objects.get(subscriber=subscriber)
    assert grant.revoked_at is None and grant.granted_at == start
    assert sorted(grant.releases.values_list("module__position", flat=True)) == [1, 2]
    assert _views(client, course, member, token) == (True, 200, True)


def test_another_offerings_revoke_tag_leaves_this_grant_alone(client, enrolled):
    course, subscriber, member, token = enrolled
    weekly_course("Advanced Course")

    tag(subscriber, "Advanced Course – Revoke Access")

    assert _views(client, course, member, token) == (True, 200, True)
