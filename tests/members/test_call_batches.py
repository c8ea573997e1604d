"""Accepted webhook calls run a batch at a time: one transaction, one task, many calls."""

import json

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.crm.events import event_record
from apps.crm.models import Event
from apps.members.models import CallStatus, Member, Operation, WebhookCall
from apps.members.services import calls, endpoint_mint, webhook_calls_process
from apps.offerings.models import AccessGrant
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db


@pytest.fixture
def release():
    return endpoint_mint(operation=Operation.RELEASE, offering=weekly_course())


def _accept(client, endpoint, emails):
    for email in emails:
        response = client.post(
            endpoint.path, json.dumps({"email": email}), content_type="application/json"
        )
        assert response.status_code == 202, response.content


def test_one_batch_runs_every_waiting_call_and_says_when_more_wait(client, release):
    _accept(client, release, [f"b{i}@example.com" for i in range(5)])
    WebhookCall.objects.update(status=CallStatus.ACCEPTED)  # as if no worker ran yet
    Member.objects.all().delete()

    ran, more = webhook_calls_process(limit=3)
    assert (ran, more) == (3, True)
    ran, more = webhook_calls_process(limit=3)
    assert (ran, more) == (2, False)

    calls = WebhookCall.objects.order_by("pk")
    assert [c.status for c in calls] == [CallStatus.DONE] * 5
    assert all(c.subscriber_id and c.finished_at for c in calls)
    assert Member.objects.count() == 5
    assert AccessGrant.objects.count() == 5


def test_a_call_that_raises_fails_alone_and_leaves_no_event_of_its_own(
    client, release, monkeypatch
):
    real = calls._operation_apply

    @transaction.atomic  # as the real one is
    def flaky(**kwargs):
        if kwargs["email"] == "bad@example.com":
            event_record(subscriber_id=None, type="half_done", payload={})
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(calls, "_operation_apply", flaky)
    monkeypatch.setattr(calls, "_kick", lambda: None)  # the batch is run by hand below
    _accept(client, release, ["a@example.com", "bad@example.com", "c@example.com"])

    assert webhook_calls_process() == (3, False)

    statuses = dict(WebhookCall.objects.values_list("payload__email", "status"))
    assert statuses == {
        "a@example.com": CallStatus.DONE,
        "bad@example.com": CallStatus.FAILED,
        "c@example.com": CallStatus.DONE,
    }
    bad = WebhookCall.objects.get(status=CallStatus.FAILED)
    assert "RuntimeError: disk full" in bad.error
    assert not Event.objects.filter(type="half_done").exists()
    assert Member.objects.count() == 2


def test_a_batch_writes_its_events_in_one_statement(client, release, monkeypatch):
    monkeypatch.setattr(calls, "_kick", lambda: None)
    _accept(client, release, [f"e{i}@example.com" for i in range(8)])

    with CaptureQueriesContext(connection) as queries:
        webhook_calls_process()

    event_inserts = [q for q in queries.captured_queries if 'INSERT INTO "crm_event"' in q["sql"]]
    call_updates = [
        q for q in queries.captured_queries if 'UPDATE "members_webhookcall"' in q["sql"]
    ]
    assert WebhookCall.objects.filter(status=CallStatus.DONE).count() == 8
    assert len(event_inserts) == 1
    assert len(call_updates) == 1


def test_a_call_already_run_is_skipped_by_the_one_call_task(client, release, monkeypatch):
    monkeypatch.setattr(calls, "_kick", lambda: None)
    _accept(client, release, ["once@example.com"])
    call = WebhookCall.objects.get()
    webhook_calls_process()
    events = Event.objects.count()

    assert calls.webhook_call_process(call_id=call.pk) == "skipped"
    assert Event.objects.count() == events


@pytest.mark.postgres
def test_the_batch_claim_reads_the_index_of_accepted_calls_not_the_call_log():
    from apps.members.lock_objects import calls_accepted_claim

    sql, params = calls_accepted_claim(limit=50).query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # as on a big table
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "members_call_accepted" in plan, plan


def test_when_the_batch_cannot_write_its_calls_run_one_by_one(client, release, monkeypatch):
    from django.db import OperationalError

    def deadlocked(*args, **kwargs):
        raise OperationalError("deadlock detected")

    monkeypatch.setattr(calls, "_kick", lambda: None)
    monkeypatch.setattr(calls, "rows_update", deadlocked)
    _accept(client, release, ["d1@example.com", "d2@example.com"])

    assert webhook_calls_process() == (2, False)

    assert set(WebhookCall.objects.values_list("status", flat=True)) == {CallStatus.DONE}
    assert Member.objects.count() == 2
    assert Event.objects.filter(type="access_granted").count() == 2
