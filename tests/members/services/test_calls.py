"""Calls to the Webhook Generator's URLs (apps/members/services/calls.py): a call that breaks
fails with a reason, a forgotten one is resumed, refused ones leave little trace."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.members.inbound import THROTTLED_LOGGED_PER_MINUTE
from apps.members.models import CallStatus, Member, Operation, WebhookCall
from apps.members.services import (
    endpoint_mint,
    webhook_calls_resume_stuck,
)
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db


def test_an_unexpected_error_fails_the_call_instead_of_leaving_it_accepted(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    from apps.members.services import calls

    endpoint = endpoint_mint(operation=Operation.RELEASE, offering=weekly_course())

    def boom(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(calls, "_operation_apply", boom)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            endpoint.path, json.dumps({"email": "a@example.com"}), content_type="application/json"
        )

    call = WebhookCall.objects.get()
    assert call.status == CallStatus.FAILED
    assert "RuntimeError: disk full" in call.error


def test_calls_left_accepted_are_run_by_the_resume_sweep(client):
    endpoint = endpoint_mint(operation=Operation.RELEASE, offering=weekly_course())
    client.post(
        endpoint.path, json.dumps({"email": "late@example.com"}), content_type="application/json"
    )  # its task never ran (a lost message)
    assert WebhookCall.objects.get().status == CallStatus.ACCEPTED

    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        assert webhook_calls_resume_stuck() == 1

    assert WebhookCall.objects.get().status == CallStatus.DONE
    assert Member.objects.get().user.username == "late@example.com"


def test_refused_calls_keep_no_body_hide_the_signature_and_stop_being_logged(client):
    endpoint = endpoint_mint(operation=Operation.RELEASE, offering=weekly_course())
    bad = endpoint.path.replace(endpoint.signature(), "0" * 64)

    codes = [
        client.post(
            bad,
            json.dumps({"email": "x@example.com", "pad": "y" * 100}),
            content_type="application/json",
        ).status_code
        for _ in range(60)
    ]

    assert codes[:30] == [403] * 30 and set(codes[30:]) == {429}
    logged = WebhookCall.objects.all()
    # The 429s are logged as a sample, not one row each (issue 14, L8).
    assert logged.filter(http_status=403).count() == 30
    assert logged.filter(http_status=429).count() == THROTTLED_LOGGED_PER_MINUTE
    assert all(c.payload == {} for c in logged)
    assert all(endpoint.signature() not in c.path and "0" * 64 not in c.path for c in logged)


def test_offering_id_zero_does_not_match_the_endpoints_offering(client):
    endpoint = endpoint_mint(operation=Operation.RELEASE, offering=weekly_course())
    zero = endpoint.path.replace(f"/{endpoint.offering_id}/", "/0/")
    assert client.post(zero, "{}", content_type="application/json").status_code == 403
