"""Members' logins (apps/members/services/accounts.py): never a staff account, never a login
that belongs to another subscriber."""

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.members.models import Member, Operation
from apps.members.services import (
    member_login_ensure,
    operation_run,
)
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db


def test_a_release_never_hands_over_a_staff_account():
    User.objects.create_user(
        "boss@example.com", email="boss@example.com", password="x", is_staff=True
    )
    with pytest.raises(ValidationError, match="belongs to a staff account"):
        operation_run(
            operation=Operation.RELEASE,
            offering=weekly_course(),
            email="boss@example.com",
            source="test",
        )
    assert not Member.objects.exists()


def test_a_login_link_never_logs_in_a_staff_user(client):
    from apps.members.tokens import login_link_tokens, uid_for

    staff = User.objects.create_user("s@example.com", email="s@example.com", is_staff=True)
    url = reverse("members:login_link", args=[uid_for(staff), login_link_tokens.make_token(staff)])
    assert client.post(url).status_code == 400


def test_a_login_that_moved_to_another_subscriber_fails_with_a_reason():
    old = SubscriberFactory(email="old@example.com")
    member_login_ensure(subscriber=old, source="test")
    old.email = "new@example.com"
    old.save()  # changed in the CRM: the login still says old@example.com
    newcomer = SubscriberFactory(email="old@example.com")

    with pytest.raises(ValidationError, match="already belongs to another subscriber"):
        member_login_ensure(subscriber=newcomer, source="test")
