"""Health on the admin's index page: sweep lags, stuck runs, recent failures, each a link."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import time_machine
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.automations.models import Automation, Run, RunStatus
from apps.crm.events import event_record
from apps.crm.models import DeliveryStatus, EmailMessage, WebhookDelivery
from tests.automations.helpers import build, on_tag, wait
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db
INDEX = reverse("admin:index")
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _health(client) -> dict[str, tuple[str, str, bool]]:
    """label -> (value, link, needs a look), read from the page's health table."""
    page = client.get(INDEX).content.decode()
    block = page.split('id="health"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(
        r'<tr class="(ok|bad)">\s*<th scope="row">(.*?)(?:<br>.*?)?</th>\s*'
        r'<td class="value"><a href="(.*?)">(.*?)</a>',
        block,
        re.S,
    )
    return {label: (value, unescape(url), cls == "bad") for cls, label, url, value in rows}


def _email(subscriber, n, status):
    return EmailMessage.objects.create(
        subscriber=subscriber,
        key=f"test:{n}",
        kind="system",
        to_email=subscriber.email,
        subject=f"Mail {n}",
        body_text="x",
        status=status,
    )


def _stage_trouble(no_kick):
    """A pending event 5 minutes old, a run 3 minutes overdue, one stuck run, two failed
    emails and one failed delivery today, and one failed email from two days ago."""
    person = SubscriberFactory()
    with time_machine.travel(T0 - timedelta(days=2), tick=False):
        _email(person, 0, "failed")
    with time_machine.travel(T0 - timedelta(minutes=5), tick=False):
        event_record(subscriber_id=person.pk, type="tag_add", payload={"tag_id": 1})
    flow = build(triggers=on_tag("Go"), steps=[wait(1, "days")])
    for n, (status, resume, lease) in enumerate(
        [
            (RunStatus.WAITING, T0 - timedelta(minutes=3), None),
            (RunStatus.RUNNING, None, T0 - timedelta(minutes=10)),
        ]
    ):
        Run.objects.create(
            automation=flow,
            subscriber=SubscriberFactory(),
            entry_number=n + 1,
            status=status,
            resume_at=resume,
            locked_until=lease,
        )
    with time_machine.travel(T0 - timedelta(hours=1), tick=False):
        _email(person, 1, "failed")
        _email(person, 2, "failed")
        _email(person, 3, "sent")
        WebhookDelivery.objects.create(
            key="hook:1:event:1", url="https://example.com/h", status=DeliveryStatus.FAILED
        )


def test_the_index_shows_lags_stuck_runs_and_recent_failures_with_links(admin_client, no_kick):
    # given
    _stage_trouble(no_kick)

    # when
    with time_machine.travel(T0, tick=False):
        health = _health(admin_client)

    # then
    event_lag = health["Event sweep lag (oldest undispatched event)"]
    assert event_lag[0] == "5 min" and event_lag[2]
    run_lag = health["Run sweep lag (oldest due run)"]
    assert run_lag[0] == "3 min · 1 due" and run_lag[2]
    assert health["Stuck runs (lease expired)"][0] == "1"
    assert health["Failed emails (last 24 h)"][0] == "2"
    assert health["Failed hook deliveries (last 24 h)"][0] == "1"
    # Each figure links to the filtered list behind it, and that list shows the same rows.
    with time_machine.travel(T0, tick=False):
        emails = admin_client.get(health["Failed emails (last 24 h)"][1])
        deliveries = admin_client.get(health["Failed hook deliveries (last 24 h)"][1])
        events = admin_client.get(health["Event sweep lag (oldest undispatched event)"][1])
    assert emails.status_code == 200
    assert [m.subject for m in emails.context["cl"].result_list] == ["Mail 2", "Mail 1"]
    assert [d.key for d in deliveries.context["cl"].result_list] == ["hook:1:event:1"]
    assert len(events.context["cl"].result_list) == 1
    stuck = admin_client.get(health["Stuck runs (lease expired)"][1])
    assert [r.status for r in stuck.context["cl"].result_list] == ["running"]


def test_a_quiet_system_is_all_ok(admin_client):
    health = _health(admin_client)

    assert len(health) == 9  # commerce adds two
    assert not any(bad for _, _, bad in health.values())
    assert health["Event sweep lag (oldest undispatched event)"][0] == "0 s"


def test_the_health_block_costs_a_fixed_number_of_queries(admin_client, no_kick):
    admin_client.get(INDEX)
    with CaptureQueriesContext(connection) as quiet:
        admin_client.get(INDEX)

    _stage_trouble(no_kick)
    for n in range(10, 40):
        _email(SubscriberFactory(), n, "failed")
        _email(SubscriberFactory(), n + 100, "held")
    Automation.objects.update(wait_warn_days=1)
    with CaptureQueriesContext(connection) as busy:
        admin_client.get(INDEX)

    health_queries = [
        q["sql"]
        for q in busy.captured_queries
        if any(t in q["sql"] for t in ("crm_event", "crm_emailmessage", "crm_webhookdelivery"))
        or "automations_run" in q["sql"]
    ]
    # Runs waiting past their automation's limit: two more once any automation sets one.
    assert len(busy.captured_queries) == len(quiet.captured_queries) + 2
    assert len(health_queries) <= 11


def test_staff_see_only_the_figures_they_may_open(client):
    staff = User.objects.create_user("clerk", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_emailmessage"))
    client.force_login(staff)

    health = _health(client)

    assert list(health) == [
        "Failed emails (last 24 h)",
        "Held emails (not sent: a variable had no value)",
    ]
    assert "Tag map" not in client.get(INDEX).content.decode()
