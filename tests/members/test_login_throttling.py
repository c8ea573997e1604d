"""Password logins locked by address (apps/members/logins.py), for every account there."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_failures_from_one_address_lock_logins_for_every_account_there(client):
    for i in range(50):
        client.post(
            reverse("members:login"),
            {"email": f"guess{i}@example.com", "password": "x", "action": "password"},
        )
    page = client.post(
        reverse("members:login"),
        {"email": "someone@example.com", "password": "x", "action": "password"},
    )
    assert "Too many failed attempts" in page.content.decode()
