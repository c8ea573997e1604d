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


def test_broadcast_stats_are_the_real_figures(v3, client):
    # given a broadcast sent to four subscribers, two of whom opened it and one clicked twice
    from apps.crm.messaging.broadcasts import broadcast_send
    from apps.crm.messaging.sending import emails_send
    from apps.crm.models import ActivityKind, EmailMessage
    from apps.crm.tracking import email_activity_record
    from tests.factories import SubscriberFactory

    people = [SubscriberFactory() for _ in range(4)]
    broadcast = Broadcast.objects.create(subject="News", content="Hi")
    broadcast_send(broadcast=broadcast)
    emails_send()
    messages = {m.subscriber_id: m for m in EmailMessage.objects.all()}
    for n, (person, kind) in enumerate(
        [
            (people[0], ActivityKind.OPENED),
            (people[1], ActivityKind.OPENED),
            (people[1], ActivityKind.CLICKED),
            (people[1], ActivityKind.CLICKED),
        ]
    ):
        email_activity_record(
            source="tessera",
            kind=kind,
            event_id=f"e{n}",
            message_id=messages[person.pk].pk,
            url="https://example.org/" if kind == ActivityKind.CLICKED else "",
        )

    # when a Kit client reads the stats
    stats = v3().get(f"broadcasts/{broadcast.pk}/stats").json()["broadcast"]["stats"]

    # then they are the real figures
    assert stats["recipients"] == 4
    assert stats["open_rate"] == 50.0
    assert stats["click_rate"] == 25.0
    assert stats["total_clicks"] == 2
    assert stats["progress"] == 100.0
