"""Behaviour that an outside review of the engine found missing; each test names the case."""

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from apps.automations.engine import run_advance, runs_claim_due, runs_retry
from apps.automations.models import Node, Run, RunStatus
from apps.automations.services import node_update
from apps.crm.delivery import (
    TargetRefused,
    target_check,
    webhook_delivery_attempt,
    webhook_delivery_enqueue,
)
from apps.crm.dispatch import events_dispatch
from apps.crm.models import DeliveryStatus, Event, WebhookDelivery
from apps.crm.services import (
    custom_field_create,
    custom_field_mark_sensitive,
    subscriber_fields_set,
    subscriber_unsubscribe,
)
from apps.tags.models import Tag
from apps.tags.services import tag_delete
from tests.automations.helpers import add, build, on_tag, path, run_of, settle, tag, tags_of, wait
from tests.crm.deliveries import delivery_claim_next
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def test_a_failed_run_can_be_retried_once_its_cause_is_fixed():
    flow = build(
        triggers=on_tag("Go"),
        steps=[
            {
                "kind": "webhook",
                "label": "notify",
                "settings": {"url": "http://127.0.0.1:9/x", "payload": "{{ subscriber.nickname }}"},
            },
            add("After"),
        ],
    )
    person = SubscriberFactory()
    tag(person, "Go")
    settle()
    assert run_of(flow, person).status == RunStatus.FAILED

    node_update(
        node=Node.objects.get(kind="webhook"),
        settings={"url": "http://127.0.0.1:9/x", "payload": "{{ subscriber.id }}"},
    )
    assert runs_retry(run_ids=[run_of(flow, person).pk]) == 1
    settle()

    run = run_of(flow, person)
    assert run.status == RunStatus.COMPLETED
    assert [s.outcome for s in run.steps.order_by("seq")] == ["failed", "passed", "passed"]
    assert "After" in tags_of(person)


def test_a_step_moved_ahead_of_a_run_is_executed_again_when_the_run_meets_it():
    flow = build(triggers=on_tag("Go"), steps=[add("First", "first"), wait(1, "days")])
    person = SubscriberFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tag(person, "Go")
        settle()
        first = Node.objects.get(label="first")
        node_update(node=first, settings=first.settings, position=5)  # now after the delay
        clock.shift(timedelta(days=1))
        settle()

    assert path(run_of(flow, person)) == ["first", "wait 1 days", "first"]
    assert run_of(flow, person).status == RunStatus.COMPLETED


def test_a_revoke_recorded_before_the_dispatcher_ran_still_pulls_the_run_forward():
    flow = build(
        triggers=on_tag("Purchase"),
        steps=[
            wait(7, "days"),
            add("Module 2"),
            {
                "kind": "event",
                "label": "revoke?",
                "settings": {"event_type": "tag_add", "tag": "Revoke"},
            },
            add("Update User"),
        ],
    )
    buyer = SubscriberFactory()

    tag(buyer, "Purchase")
    tag(buyer, "Revoke")  # both before any dispatch (a busy dispatcher, a backlog)
    settle()

    run = run_of(flow, buyer)
    assert run.status == RunStatus.COMPLETED
    assert "Module 2" not in tags_of(buyer)
    assert "Update User" in tags_of(buyer)


def test_an_unsubscribe_that_races_a_claimed_run_ends_the_run():
    flow = build(triggers=on_tag("Go"), steps=[add("Done")])
    person = SubscriberFactory()
    tag(person, "Go")
    events_dispatch()
    ((run_id, token),) = runs_claim_due()
    subscriber_unsubscribe(subscriber=person)  # its event is not dispatched yet

    assert run_advance(run_id=run_id, token=token) == RunStatus.EXITED
    assert "Done" not in tags_of(person)
    assert Run.objects.get(pk=run_id).steps.get().detail == "unsubscribed"
    assert flow


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


def test_a_sensitive_field_never_reaches_the_event_log():
    field = custom_field_create(label="accessally_password")
    custom_field_mark_sensitive(field=field)
    person = SubscriberFactory()

    subscriber_fields_set(subscriber=person, values={"accessally_password": "hunter2-secret"})

    payload = Event.objects.get(type="field_value_updated").payload
    assert payload["new"] == "[redacted]"
    assert "hunter2-secret" not in str(list(Event.objects.values_list("payload", flat=True)))


def test_a_tag_that_a_step_or_trigger_uses_cannot_be_deleted():
    build(
        name="Uses VIP",
        triggers=on_tag("Go"),
        steps=[
            {"kind": "condition", "settings": {"condition": {"has": "VIP"}}, "yes": [], "no": []}
        ],
    )

    with pytest.raises(ValidationError, match="condition step in 'Uses VIP'"):
        tag_delete(tag=Tag.objects.get(name="VIP"))
    with pytest.raises(ValidationError, match="entry trigger of 'Uses VIP'"):
        tag_delete(tag=Tag.objects.get(name="Go"))
    assert Tag.objects.filter(name="VIP").exists()


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
