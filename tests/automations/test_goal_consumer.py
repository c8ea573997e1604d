"""The goal consumer: an event step pulls runs forward even when the event was recorded
before the dispatcher ran."""

import pytest

from apps.automations.models import RunStatus
from tests.automations.helpers import add, build, on_tag, run_of, settle, tag, tags_of, wait
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def test_a_revoke_recorded_before_the_dispatcher_ran_still_pulls_the_run_forward():
    flow = build(
        triggers=on_tag("Purchase"),
        steps=[
            wait(7, "days"),
            add("Module 2"),
            {
                "kind": "event",
                "label": "revoke?",
                "settings": {"event_type": "tag_add", "tag": "Revoke"},
            },
            add("Update User"),
        ],
    )
    buyer = SubscriberFactory()

    tag(buyer, "Purchase")
    tag(buyer, "Revoke")  # both before any dispatch (a busy dispatcher, a backlog)
    settle()

    run = run_of(flow, buyer)
    assert run.status == RunStatus.COMPLETED
    assert "Module 2" not in tags_of(buyer)
    assert "Update User" in tags_of(buyer)
