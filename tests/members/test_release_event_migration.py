"""The data migration that moves "wait for member login created" steps to the release's own
event, for automations built before issue 13."""

import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from apps.automations.models import Node, Run, RunStatus
from apps.members.models import Operation
from apps.members.services import endpoint_mint
from apps.tags.services import tag_get_or_create
from tests.automations.helpers import add, build, on_tag
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db
migration = importlib.import_module("apps.members.migrations.0006_release_event_steps")


def _login_wait(label="Wait for the member login"):
    return {"kind": "event", "label": label, "settings": {"event_type": "member_login_created"}}


def test_login_waits_become_access_granted_for_the_offering_the_flow_releases():
    # given: an old release flow (release tag, then wait for the login) with a run waiting
    course = weekly_course("Foundation Course")
    endpoint_mint(
        operation=Operation.RELEASE,
        offering=course,
        trigger_tag=tag_get_or_create(name="FC – Release Webhook")[0],
    )
    flow = build(
        triggers=on_tag("Bought"),
        steps=[add("FC – Release Webhook"), _login_wait(), add("Welcomed")],
    )
    other = build(triggers=on_tag("Other"), steps=[_login_wait("mine")], status="draft")
    wait = Node.objects.get(automation=flow, kind="event")
    run = Run.objects.create(
        automation=flow,
        subscriber=SubscriberFactory(),
        status=RunStatus.WAITING,
        current_node=wait,
        arrived=True,
    )

    # when
    before = timezone.now()
    migration.forwards(apps, None)

    # then
    wait.refresh_from_db()
    assert wait.settings == {"event_type": "access_granted", "offering_id": course.pk}
    assert wait.label == "Wait for the release (access granted)"
    # no release tag before it: any offering's grant, and a creator's own label is kept
    assert Node.objects.get(automation=other).settings == {"event_type": "access_granted"}
    assert Node.objects.get(automation=other).label == "mine"
    run.refresh_from_db()
    assert run.resume_at >= before  # woken: a release already done lets it through
