"""Kit v3 query counts (reference/kit.md 1.4)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.crm.models import (
    Broadcast,
    Form,
    Purchase,
    Sequence,
)
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path, make",
    [
        (
            "purchases",
            lambda i: Purchase.objects.create(
                transaction_id=f"T{i}",
                subscriber=SubscriberFactory(),
                email_address=f"p{i}@x.com",
                transaction_time="2026-01-01T00:00:00Z",
            ),
        ),
        ("broadcasts", lambda i: Broadcast.objects.create(subject=f"B{i}")),
        ("forms", lambda i: Form.objects.create(name=f"F{i}")),
        ("sequences", lambda i: Sequence.objects.create(name=f"S{i}")),
    ],
)
def test_list_endpoints_do_not_grow_with_rows(v3, path, make):
    def count(n, start):
        for i in range(start, start + n):
            make(i)
        v3().get(path)
        with CaptureQueriesContext(connection) as ctx:
            assert v3().get(path).status_code == 200
        return len(ctx.captured_queries)

    assert count(2, 0) == count(25, 100)


@pytest.mark.parametrize("kind", ["forms", "sequences"])
def test_subscription_lists_do_not_grow_with_rows(v3, kind):
    from apps.crm.models import Form, FormSubscription, Sequence, SequenceSubscription

    parent = Form.objects.create(name="F") if kind == "forms" else Sequence.objects.create(name="S")

    def count(n):
        people = SubscriberFactory.create_batch(n)
        if kind == "forms":
            FormSubscription.objects.bulk_create(
                FormSubscription(form=parent, subscriber=p, state="active") for p in people
            )
        else:
            SequenceSubscription.objects.bulk_create(
                SequenceSubscription(sequence=parent, subscriber=p) for p in people
            )
        v3().get(f"{kind}/{parent.pk}/subscriptions")
        with CaptureQueriesContext(connection) as ctx:
            v3().get(f"{kind}/{parent.pk}/subscriptions")
        return len(ctx.captured_queries)

    assert count(2) == count(30)
