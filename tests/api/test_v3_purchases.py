"""Kit v3 purchases (reference/kit.md 1.4)."""

import pytest

from apps.crm.models import (
    Purchase,
)

pytestmark = pytest.mark.django_db


PURCHASE = {
    "transaction_id": "T-100",
    "email_address": "buyer@example.com",
    "currency": "usd",
    "total": "97.00",
    "status": "paid",
    "products": [
        {"pid": 1, "lid": 5, "name": "Course", "sku": "C", "unit_price": 97, "quantity": 1}
    ],
}


def test_create_list_and_get_purchases(v3):
    created = v3().post("purchases", {"purchase": PURCHASE})
    listed = v3().get("purchases").json()
    got = v3().get(f"purchases/{created.json()['id']}")

    assert created.status_code == 201
    assert created.json()["currency"] == "USD"
    assert listed["total_purchases"] == 1 and listed["purchases"][0]["transaction_id"] == "T-100"
    assert got.json()["total"] == 97.0


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "purchase can't be blank"),
        ({"purchase": {"email_address": "x@example.com"}}, "transaction_id can't be blank"),
        ({"purchase": {**PURCHASE, "products": [{"pid": 1}]}}, "products[0].lid can't be blank"),
        ({"purchase": {**PURCHASE, "total": "lots"}}, "total must be a number"),
    ],
)
def test_purchase_errors_are_kits_400(v3, body, message):
    response = v3().post("purchases", body)
    assert response.status_code == 400
    assert response.json()["error"] == "Your request is missing parameters"
    assert message in response.json()["message"]
    assert not Purchase.objects.exists()
