"""The webhook step's deliveries: leases taken over, private addresses refused (also after a
DNS rebinding), this site's own URL allowed."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

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


def test_a_delivery_whose_lease_was_taken_over_is_not_recorded_twice():
    webhook_delivery_enqueue(key="k1", url="http://127.0.0.1:9/x", body="{}")
    first = delivery_claim_next()
    WebhookDelivery.objects.update(status=DeliveryStatus.PENDING)  # the reaper hands it on
    second = delivery_claim_next()

    assert webhook_delivery_attempt(delivery_id=first[0], token=first[1]) is None
    assert webhook_delivery_attempt(delivery_id=second[0], token=second[1]) == "pending"
    assert WebhookDelivery.objects.get().attempts == 1


@override_settings(OUTBOUND_ALLOW_PRIVATE=False, SITE_URL="https://tessera.example.com")
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5432/",
        "http://169.254.169.254/latest/",
        "http://10.1.2.3/hook",
        "http://[::1]:8000/x",
    ],
)
def test_webhooks_to_private_addresses_are_refused(url):
    with pytest.raises(TargetRefused, match="private address"):
        target_check(url)

    webhook_delivery_enqueue(key=url, url=url, body="{}")
    claimed = delivery_claim_next()
    webhook_delivery_attempt(delivery_id=claimed[0], token=claimed[1])
    assert "refused" in WebhookDelivery.objects.get(key=url).last_error


@override_settings(OUTBOUND_ALLOW_PRIVATE=False, SITE_URL="http://127.0.0.1:8000")
def test_this_sites_own_url_is_allowed_even_on_a_private_address():
    target_check("http://127.0.0.1:8000/hooks/in/x/release/1/sig/")


@override_settings(OUTBOUND_ALLOW_PRIVATE=False, SITE_URL="https://tessera.example.com")
def test_a_name_that_resolves_public_then_private_is_refused_at_connect(monkeypatch):
    """DNS rebinding: the check before connecting sees a public address, the connection then
    reaches loopback. The socket's real peer is checked, so nothing is sent."""
    import socket as socket_module

    from apps.crm import delivery as delivery_module

    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    public = [(socket_module.AF_INET, socket_module.SOCK_STREAM, 6, "", ("93.184.215.14", port))]
    real_getaddrinfo = socket_module.getaddrinfo
    calls = []

    def rebinding(host, *args, **kwargs):
        calls.append(host)
        if host == "rebind.example" and len(calls) == 1:
            return public  # the pre-connect check
        if host == "rebind.example":
            return real_getaddrinfo("127.0.0.1", *args, **kwargs)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(delivery_module.socket, "getaddrinfo", rebinding)
    url = f"http://rebind.example:{port}/hook"
    try:
        webhook_delivery_enqueue(key=url, url=url, body="{}")
        claimed = delivery_claim_next()
        webhook_delivery_attempt(delivery_id=claimed[0], token=claimed[1])
    finally:
        server.shutdown()
    assert received == []
    assert "connected to 127.0.0.1, a private address" in WebhookDelivery.objects.get().last_error
