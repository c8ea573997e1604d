"""Limits behind a proxy (issue 14, H2): the client address comes from X-Forwarded-For only
through TRUSTED_PROXIES, and the built-in CRM's own release calls never queue behind anyone
else's limit."""

import json

import pytest
from django.test import RequestFactory

from apps.core.client_address import client_address
from apps.crm.models import DeliveryStatus, WebhookDelivery
from apps.members.models import CallStatus, Operation, WebhookCall
from apps.members.services import REFUSALS_PER_ADDRESS_PER_MINUTE, endpoint_mint
from apps.offerings.models import AccessGrant
from apps.tags.services import subscriber_tag_add, tag_get_or_create
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"


def _request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    "trusted, remote, forwarded, expected",
    [
        ([], PROXY, "198.51.100.7", PROXY),  # no proxy configured: the header is ignored
        (["10.0.0.0/8"], "203.0.113.9", "198.51.100.7", "203.0.113.9"),  # spoofed, untrusted
        (["10.0.0.0/8"], PROXY, "198.51.100.7", "198.51.100.7"),
        # a forged first entry is skipped: the chain is read from the right
        (["10.0.0.0/8"], PROXY, "1.2.3.4, 198.51.100.7", "198.51.100.7"),
        # two proxies in a row (a CDN, then the load balancer): walk past both
        (["10.0.0.0/8", "192.0.2.1"], PROXY, "198.51.100.7, 192.0.2.1", "198.51.100.7"),
        (["10.0.0.0/8"], PROXY, "junk, 198.51.100.7", "198.51.100.7"),
        (["10.0.0.0/8"], PROXY, "198.51.100.7, junk", PROXY),  # stop at the last good one
        (["10.0.0.0/8"], PROXY, "", PROXY),
        (["10.0.0.0/8"], PROXY, "[2001:db8::7]:4711", "2001:db8::7"),
        (["::1"], "::1", "198.51.100.7:51000", "198.51.100.7"),
        (["10.0.0.0/8"], "::ffff:10.0.0.5", "198.51.100.7", "198.51.100.7"),
    ],
)
def test_the_client_address_is_read_through_trusted_proxies_only(
    settings, trusted, remote, forwarded, expected
):
    settings.TRUSTED_PROXIES = trusted
    assert client_address(_request(remote, forwarded)) == expected


def test_a_bad_trusted_proxies_entry_stops_the_site_at_start():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        env={"TRUSTED_PROXIES": "10.0.0.0/8,not-an-address", "SECRET_KEY": "x", "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "TRUSTED_PROXIES: 'not-an-address' is not an address or CIDR" in result.stderr


@pytest.fixture
def release():
    return endpoint_mint(operation=Operation.RELEASE, offering=weekly_course())


def _junk(client, endpoint, forwarded: str | None, remote: str = PROXY):
    """A call with a wrong signature, as a junk caller sends."""
    bad = endpoint.path.replace(endpoint.signature(), "0" * 64)
    extra = {"REMOTE_ADDR": remote}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(bad, "{}", content_type="application/json", **extra).status_code


def test_behind_a_trusted_proxy_two_clients_are_limited_separately(client, settings, release):
    # given: the site behind a proxy, one client past its refusals
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    codes = [_junk(client, release, "198.51.100.7") for _ in range(REFUSALS_PER_ADDRESS_PER_MINUTE)]
    assert set(codes) == {403}

    # when / then: that client is limited, another behind the same proxy is not
    assert _junk(client, release, "198.51.100.7") == 429
    assert _junk(client, release, "198.51.100.8") == 403
    logged = set(WebhookCall.objects.values_list("remote_addr", flat=True))
    assert logged == {"198.51.100.7", "198.51.100.8"}  # the log names the clients, not the proxy


def test_a_spoofed_forwarded_for_from_an_untrusted_address_is_ignored(client, settings, release):
    # given: the proxy is trusted, the caller is not
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    attacker = "203.0.113.9"

    # when: each call claims another client
    codes = [
        _junk(client, release, f"198.51.100.{n}", remote=attacker)
        for n in range(REFUSALS_PER_ADDRESS_PER_MINUTE + 1)
    ]

    # then: they all count against the attacker's own address
    assert codes[-1] == 429
    assert set(WebhookCall.objects.values_list("remote_addr", flat=True)) == {attacker}


def test_the_built_in_crms_release_goes_through_while_the_proxy_address_is_limited(
    client, settings, django_capture_on_commit_callbacks
):
    # given: a release URL fired by a tag, and junk calls that got the address every
    # caller shares behind an untrusted-header proxy (no TRUSTED_PROXIES) refused
    settings.TRUSTED_PROXIES = []
    course = weekly_course()
    endpoint = endpoint_mint(
        operation=Operation.RELEASE,
        offering=course,
        trigger_tag=tag_get_or_create(name="Release now")[0],
    )
    for _ in range(REFUSALS_PER_ADDRESS_PER_MINUTE):
        _junk(client, endpoint, None, remote="127.0.0.1")
    assert _junk(client, endpoint, None, remote="127.0.0.1") == 429
    good = client.post(
        endpoint.path,
        json.dumps({"email": "x@example.com"}),
        content_type="application/json",
        REMOTE_ADDR="127.0.0.1",
    )
    assert good.status_code == 429  # even a good URL from that address waits

    # when: the built-in CRM fires the release for a buyer
    buyer = SubscriberFactory()
    with django_capture_on_commit_callbacks(execute=True):
        subscriber_tag_add(subscriber=buyer, tag=endpoint.trigger_tag, source="test")

    # then: the release ran at once
    delivery = WebhookDelivery.objects.get(hook=endpoint.hook)
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 202)
    call = WebhookCall.objects.get(status=CallStatus.DONE)
    assert call.subscriber == buyer
    assert AccessGrant.objects.get(subscriber=buyer, offering=course).revoked_at is None
