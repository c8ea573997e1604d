"""Kit v3 hooks (reference/kit.md 1.4)."""

import pytest

from apps.crm.models import (
    Hook,
)
from apps.tags.services import tag_get_or_create

pytestmark = pytest.mark.django_db


def test_create_a_hook_drops_the_prefix_and_echoes_the_filter(v3):
    tag = tag_get_or_create(name="T")[0]
    rule = (
        v3()
        .post(
            "automations/hooks",
            {
                "target_url": "https://example.com/hook",
                "event": {"name": "subscriber.tag_add", "tag_id": tag.pk},
            },
        )
        .json()["rule"]
    )
    course = (
        v3()
        .post(
            "automations/hooks",
            {
                "target_url": "https://example.com/hook",
                "event": {"name": "subscriber.course_complete", "course_id": 7},
            },
        )
        .json()["rule"]
    )
    deleted = v3().delete(f"automations/hooks/{rule['id']}")

    assert rule["event"] == {"name": "tag_add", "tag_id": tag.pk}
    assert set(rule) == {"id", "account_id", "event", "target_url"}
    assert course["event"] == {"name": "course_complete", "sequence_id": 7}
    assert deleted.json() == {"success": True}
    assert Hook.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"target_url": "https://example.com"},
        {"target_url": "https://example.com", "event": {"name": "x"}},
        {"target_url": "https://example.com", "event": {"name": "subscriber.tag_add"}},
        {"target_url": "notaurl", "event": {"name": "subscriber.subscriber_activate"}},
    ],
)
def test_bad_hooks_are_422(v3, body):
    response = v3().post("automations/hooks", body)
    assert response.status_code == 422
    assert not Hook.objects.exists()


def test_deleting_the_webhook_generators_own_hook_is_refused_with_a_message(v3):
    """Issue 14, L3: the endpoint would stay "active" with nothing calling it."""
    from apps.members.models import Operation
    from apps.members.services import endpoint_mint
    from apps.tags.services import tag_get_or_create
    from tests.offerings.helpers import weekly_course

    endpoint = endpoint_mint(
        operation=Operation.RELEASE,
        offering=weekly_course(),
        trigger_tag=tag_get_or_create(name="Release")[0],
    )

    response = v3().delete(f"automations/hooks/{endpoint.hook_id}")

    assert response.status_code == 422
    assert "Webhook Generator" in response.json()["message"]
    assert Hook.objects.filter(pk=endpoint.hook_id, active=True).exists()
