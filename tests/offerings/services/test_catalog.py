"""Offerings' modules (apps/offerings/services/catalog.py)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.offerings.models import Module, ModuleRelease
from apps.offerings.services import drip_sweep, module_add, offering_grant
from apps.tags.models import Tagging
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db


def test_a_module_added_after_a_delete_gets_a_fresh_position_and_tag():
    course = weekly_course(modules=3)
    person = SubscriberFactory()
    with time_machine.travel(timezone.now() - timedelta(days=30)):
        offering_grant(subscriber=person, offering=course, source="test")
    drip_sweep()  # thirty days on: modules 2 and 3 were released
    assert ModuleRelease.objects.filter(grant__subscriber=person).count() == 3
    Module.objects.get(offering=course, position=3).delete()

    later = module_add(offering=course, title="New", release_rule="days_after", release_days=90)

    assert later.position == 3
    assert not Tagging.objects.filter(subscriber=person, tag=later.access_tag).exists()
    assert later.access_tag.name.endswith("(2)")
