"""Kit v3 sequences (reference/kit.md 1.4)."""

import pytest

from apps.crm.models import (
    Sequence,
    SequenceSubscription,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix", ["sequences", "courses"])
def test_sequences_answer_under_both_names_with_the_courses_key(v3, prefix):
    sequence = Sequence.objects.create(name="Welcome")

    listed = v3(secret=False).get(prefix).json()
    sub = (
        v3(secret=False)
        .post(f"{prefix}/{sequence.pk}/subscribe", {"email": "c@example.com"})
        .json()["subscription"]
    )
    page = v3().get(f"{prefix}/{sequence.pk}/subscriptions").json()
    missing = v3(secret=False).post(f"{prefix}/999/subscribe", {"email": "c@example.com"})

    assert list(listed) == ["courses"]
    assert set(listed["courses"][0]) == {"id", "name", "hold", "repeat", "created_at"}
    assert sub["subscribable_type"] == "course"
    assert page["total_subscriptions"] == 1
    assert missing.status_code == 404
    assert missing.json() == {"error": "Course not found", "message": ""}
    assert SequenceSubscription.objects.count() == 1
