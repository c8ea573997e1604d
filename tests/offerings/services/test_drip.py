"""The drip (apps/offerings/services/drip.py): the revoke tag wins over it."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.offerings.models import ModuleRelease
from apps.offerings.services import drip_sweep, offering_grant
from apps.tags.services import subscriber_tag_add
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db


def test_the_drip_gives_nothing_to_someone_holding_the_revoke_tag():
    course = weekly_course()
    person = SubscriberFactory()
    offering_grant(subscriber=person, offering=course, source="test")
    subscriber_tag_add(subscriber=person, tag=course.revoke_tag, source="crm")  # no webhook ran

    with time_machine.travel(timezone.now() + timedelta(days=30)):
        drip_sweep()

    assert ModuleRelease.objects.filter(grant__subscriber=person).count() == 1
