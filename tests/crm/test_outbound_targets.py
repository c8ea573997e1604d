"""Outbound targets (issue 14, L5): the IPv6 forms that lead back to private IPv4 are refused,
and a refused target fails at once instead of being retried for a day."""

import pytest
from django.test import override_settings

from apps.crm.delivery import (
    TargetRefused,
    target_check,
    webhook_delivery_attempt,
    webhook_delivery_enqueue,
)
from apps.crm.models import DeliveryStatus, WebhookDelivery
from tests.crm.deliveries import delivery_claim_next

pytestmark = pytest.mark.django_db


@override_settings(OUTBOUND_ALLOW_PRIVATE=False, SITE_URL="https://tessera.example.com")
@pytest.mark.parametrize(
    "host",
    [
        "[::7f00:1]",  # IPv4-compatible 127.0.0.1
        "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of the metadata service
        "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
        "[2002:a00:1::1]",  # 6to4 of 10.0.0.1
        "[fec0::1]",  # site-local
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[::ffff:a9fe:a9fe]",  # IPv4-mapped metadata service
    ],
)
def test_ipv6_forms_of_private_addresses_are_refused_at_once(host):
    url = f"http://{host}:8080/hook"
    with pytest.raises(TargetRefused, match="private address"):
        target_check(url)

    webhook_delivery_enqueue(key=url, url=url, body="{}")
    claimed = delivery_claim_next()
    webhook_delivery_attempt(delivery_id=claimed[0], token=claimed[1])

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        DeliveryStatus.FAILED,
        1,
        None,
    )
    assert delivery.last_error.startswith("refused: ")


@override_settings(OUTBOUND_ALLOW_PRIVATE=False, SITE_URL="https://tessera.example.com")
def test_a_name_that_does_not_resolve_is_retried(monkeypatch):
    import socket

    from apps.crm import delivery as delivery_module

    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(delivery_module.socket, "getaddrinfo", no_dns)
    webhook_delivery_enqueue(key="k", url="https://crm.example.com/hook", body="{}")
    claimed = delivery_claim_next()
    webhook_delivery_attempt(delivery_id=claimed[0], token=claimed[1])

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert "cannot resolve crm.example.com" in delivery.last_error
