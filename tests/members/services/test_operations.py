"""The Webhook Generator's operations (apps/members/services/operations.py)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.members.models import Operation
from apps.members.services import operation_run
from apps.offerings.models import AccessGrant, ModuleRelease
from apps.offerings.services import drip_sweep
from apps.tags.services import subscriber_tag_remove
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db


def test_update_without_any_access_tag_ends_access_and_the_drip():
    course = weekly_course()
    person = SubscriberFactory()
    operation_run(operation=Operation.RELEASE, offering=course, email=person.email, source="test")
    subscriber_tag_remove(subscriber=person, tag=course.base_tag, source="crm")

    result = operation_run(
        operation=Operation.UPDATE, offering=course, email=person.email, source="test"
    )
    with time_machine.travel(timezone.now() + timedelta(days=30)):
        drip_sweep()

    assert "access ended" in result
    assert AccessGrant.objects.get().revoked_at is not None
    assert not ModuleRelease.objects.filter(module__position=2).exists()
