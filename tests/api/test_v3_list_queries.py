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
