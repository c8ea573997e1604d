from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.crm.models import Event
from apps.offerings.models import AccessGrant, Lesson, Module, ModuleRelease
from apps.offerings.services import (
    drip_sweep,
    lesson_complete,
    module_set_rule,
    offering_access,
    offering_grant,
    offering_revoke,
)
from apps.tags.models import Tagging
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db


def _open_modules(subscriber, offering) -> list[int]:
    modules = list(offering.modules.order_by("position"))
    grant = AccessGrant.objects.filter(subscriber=subscriber, offering=offering).first()
    return [
        a.module.position
        for a in offering_access(
            subscriber_id=subscriber.pk, offering=offering, modules=modules, grant=grant
        )
        if a.open
    ]


def test_module_2_opens_seven_days_after_the_grant_and_not_before():
    course, member = weekly_course(), SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        offering_grant(subscriber=member, offering=course, source="test")
        assert _open_modules(member, course) == [1]

        clock.shift(timedelta(days=6, hours=23, minutes=59))
        drip_sweep()
        assert _open_modules(member, course) == [1]

        clock.shift(timedelta(minutes=1))
        drip_sweep()
        assert _open_modules(member, course) == [1, 2]
        release = ModuleRelease.objects.get(module__position=2)
        assert release.released_at == timezone.now()
        assert Event.objects.filter(type="module_released").count() == 2


def test_the_locked_module_shows_its_unlock_date():
    course, member = weekly_course(), SubscriberFactory()
    offering_grant(subscriber=member, offering=course, source="test")
    grant = AccessGrant.objects.get()
    modules = list(course.modules.order_by("position"))

    access = offering_access(subscriber_id=member.pk, offering=course, modules=modules, grant=grant)

    assert [a.unlocks_at for a in access] == [
        None,
        grant.granted_at + timedelta(days=7),
        grant.granted_at + timedelta(days=14),
    ]


def test_changing_a_delay_afterwards_relocks_nothing_already_released():
    course, member = weekly_course(), SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        offering_grant(subscriber=member, offering=course, source="test")
        clock.shift(timedelta(days=8))
        drip_sweep()
        assert _open_modules(member, course) == [1, 2]

        module_set_rule(
            module=Module.objects.get(position=2), release_rule="days_after", release_days=30
        )
        drip_sweep()

        assert _open_modules(member, course) == [1, 2]
        # ...and the change applies to what is still to come for others
        newcomer = SubscriberFactory()
        offering_grant(subscriber=newcomer, offering=course, source="test")
        clock.shift(timedelta(days=8))
        drip_sweep()
        assert _open_modules(newcomer, course) == [1]


def test_revoke_then_release_again_continues_the_drip_instead_of_restarting_it():
    """The rule: the drip is anchored at the first grant. Modules that fell due while access
    was revoked open as soon as access comes back; nothing already released is lost."""
    course, member = weekly_course(), SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        first = offering_grant(subscriber=member, offering=course, source="test")
        clock.shift(timedelta(days=8))
        drip_sweep()
        offering_revoke(subscriber=member, offering=course, source="refund")
        assert _open_modules(member, course) == []  # the revoke tag wins over every allow tag

        clock.shift(timedelta(days=10))  # module 3 falls due (day 14) while revoked
        drip_sweep()
        assert not ModuleRelease.objects.filter(module__position=3).exists()

        again = offering_grant(subscriber=member, offering=course, source="repurchase")

    assert again.pk == first.pk
    assert again.granted_at == first.granted_at
    assert _open_modules(member, course) == [1, 2, 3]
    assert not Tagging.objects.filter(subscriber=member, tag=course.revoke_tag).exists()


def test_granting_an_active_grant_again_changes_nothing():
    course, member = weekly_course(), SubscriberFactory()
    offering_grant(subscriber=member, offering=course, source="test")
    events = Event.objects.count()

    offering_grant(subscriber=member, offering=course, source="test")

    assert AccessGrant.objects.count() == 1
    assert Event.objects.count() == events


def test_instant_access_skips_the_drip_and_revoke_always_wins():
    course, member = weekly_course(), SubscriberFactory()
    Tagging.objects.create(subscriber=member, tag=course.instant_tag)
    assert _open_modules(member, course) == [1, 2, 3]

    Tagging.objects.create(subscriber=member, tag=course.revoke_tag)
    assert _open_modules(member, course) == []


def test_a_no_schedule_module_opens_when_its_tag_is_added():
    course, member = weekly_course(modules=1), SubscriberFactory()
    from apps.offerings.services import module_add
    from apps.tags.services import subscriber_tag_add

    bonus = module_add(offering=course, title="Bonus", release_rule="tag_only")
    offering_grant(subscriber=member, offering=course, source="test")
    with time_machine.travel(timezone.now() + timedelta(days=365)):
        drip_sweep()
    assert _open_modules(member, course) == [1]

    subscriber_tag_add(subscriber=member, tag=bonus.access_tag, source="crm")
    from apps.crm.dispatch import events_dispatch

    events_dispatch()

    assert _open_modules(member, course) == [1, 2]
    assert ModuleRelease.objects.get(module=bonus).source == "tag"


def test_the_drip_sweep_releases_many_grants_in_a_fixed_number_of_queries(
    django_assert_max_num_queries,
):
    course = weekly_course()
    members = SubscriberFactory.create_batch(40)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for member in members:
            offering_grant(subscriber=member, offering=course, source="test")
        clock.shift(timedelta(days=7))
        with django_assert_max_num_queries(20):
            assert drip_sweep() == 40
    assert ModuleRelease.objects.filter(module__position=2).count() == 40


def test_completing_a_lesson_adds_its_tag_and_writes_the_event_once():
    weekly_course()
    member = SubscriberFactory()
    lesson = Lesson.objects.get(title="M1 lesson 2")

    assert lesson_complete(subscriber=member, lesson=lesson) is True
    assert lesson_complete(subscriber=member, lesson=lesson) is False

    assert Tagging.objects.filter(subscriber=member, tag=lesson.completion_tag).exists()
    assert lesson.completion_tag.name == "Foundation Course – Module 1 Complete"
    event = Event.objects.get(type="lesson_completed")
    assert event.payload["lesson_id"] == lesson.pk
    assert (
        Event.objects.filter(type="tag_add", payload__tag_id=lesson.completion_tag_id).count() == 1
    )


def test_lesson_bodies_are_sanitized():
    weekly_course()
    assert "<script>" not in Lesson.objects.first().body
    assert "<p>Lesson 1</p>" in Lesson.objects.first().body
