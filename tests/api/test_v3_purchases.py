"""Kit v3 purchases (reference/kit.md 1.4)."""

import json

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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_purchase_in_flight_when_the_database_connection_drops_answers_503(
    client, creds, monkeypatch
):
    """Issue 14, L9: the connection is terminated (a restart, a failover) just as the purchase
    is written; the caller gets a 503 saying to retry, and the retry records it once."""
    import psycopg
    from django.db import connection

    from apps.api.v3 import views_messaging
    from apps.crm.models import Purchase

    real_create = views_messaging.purchase_create

    def create_after_the_connection_drops(*, data):
        connection.ensure_connection()
        pid = connection.connection.info.backend_pid
        params = connection.get_connection_params()
        with psycopg.connect(
            **{k: v for k, v in params.items() if k != "cursor_factory"}, autocommit=True
        ) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        return real_create(data=data)

    monkeypatch.setattr(views_messaging, "purchase_create", create_after_the_connection_drops)
    body = json.dumps(
        {
            "api_secret": creds.api_secret,
            "purchase": {"transaction_id": "T-503", "email_address": "a@example.com"},
        }
    )

    dropped = client.post("/v3/purchases", body, content_type="application/json")
    monkeypatch.setattr(views_messaging, "purchase_create", real_create)
    retried = client.post("/v3/purchases", body, content_type="application/json")

    assert dropped.status_code == 503
    assert dropped.json()["error"] == "Service Unavailable"
    assert "Retry" in dropped.json()["message"] and dropped["Retry-After"]
    assert retried.status_code == 201
    assert Purchase.objects.filter(transaction_id="T-503").count() == 1
