"""Kit v3 broadcasts (reference/kit.md 1.4)."""

import pytest

from apps.crm.models import (
    Broadcast,
)

pytestmark = pytest.mark.django_db


def test_broadcast_create_get_update_stats_delete(v3):
    created = v3().post("broadcasts", {"subject": "Hello", "content": "Hi {{ subscriber.id }}"})
    bid = created.json()["broadcast"]["id"]

    listed = v3().get("broadcasts").json()["broadcasts"]
    updated = v3().put(f"broadcasts/{bid}", {"send_at": "2030-01-01T10:00:00Z"})
    stats = v3().get(f"broadcasts/{bid}/stats").json()
    deleted = v3().delete(f"broadcasts/{bid}")

    assert created.status_code == 201
    assert listed == [{"id": bid, "created_at": listed[0]["created_at"], "subject": "Hello"}]
    assert updated.json()["broadcast"]["send_at"] == "2030-01-01T10:00:00Z"
    assert set(stats["broadcast"]["stats"]) == {
        "recipients",
        "open_rate",
        "click_rate",
        "unsubscribes",
        "total_clicks",
        "show_total_clicks",
        "status",
        "progress",
    }
    assert deleted.status_code == 204
    assert not Broadcast.objects.exists()


def test_broadcast_errors(v3):
    assert v3().post("broadcasts", {"subject": "x", "send_at": "soon"}).status_code == 422
    assert v3().get("broadcasts/999").status_code == 404
