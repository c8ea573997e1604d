"""A creator building a broadcast's audience and sending it, and a sign-up form embedded on
the creator's own website (another origin), in a real browser (issue 17, points 4 and 5)."""

import functools
import threading
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from apps.crm.dispatch import events_dispatch
from apps.crm.embed import FORM_SPAM_REFUSED, embed_snippet
from apps.crm.messaging.broadcasts import broadcasts_send_due
from apps.crm.messaging.sending import emails_send
from apps.crm.models import Broadcast, BroadcastStatus, EmailMessage, Event, Form, Subscriber
from apps.crm.tracking import email_activity_record
from apps.tags.services import subscriber_tag_add
from tests.factories import SubscriberFactory, TagFactory

pytestmark = pytest.mark.django_db(transaction=True)

MINUTE_START = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)


def _login(page, live_server):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")


def _count_is(page, number: int) -> None:
    page.wait_for_selector(f".audience-count[data-count='{number}']")


def test_a_creator_builds_an_audience_tests_schedules_and_reads_the_report(
    live_server, page, screenshot, admin_user, settings
):
    # given Gold, Silver and Refunded buyers, and a creator with an address
    settings.SITE_URL = live_server.url
    admin_user.email = "creator@example.com"
    admin_user.save()
    gold, silver, refunded = (TagFactory(name=n) for n in ("Gold", "Silver", "Refunded"))
    for email, tags in {
        "gold@example.com": [gold],
        "silver@example.com": [silver],
        "both@example.com": [gold, silver],
        "refunded@example.com": [gold, refunded],
        "none@example.com": [],
    }.items():
        person = SubscriberFactory(email=email, first_name=email.split("@")[0].title())
        for tag in tags:
            subscriber_tag_add(subscriber=person, tag=tag, source="test")
    _login(page, live_server)

    # when the creator writes a broadcast and builds "has Gold OR Silver AND NOT Refunded"
    page.goto(f"{live_server.url}/admin/crm/broadcast/add/")
    page.fill("#id_subject", "Members' launch")
    page.fill("#id_content", "Hello {{ subscriber.first_name }}, the doors are open.")
    _count_is(page, 5)  # nobody left out yet: everyone who takes broadcasts
    page.click(".audience-add-group")
    page.select_option(".audience-group[data-group='0'] .audience-tag", label="Gold")
    _count_is(page, 3)
    page.click(".audience-group[data-group='0'] .audience-add-rule")
    page.select_option(
        ".audience-group[data-group='0'] .audience-rule >> nth=1 >> .audience-tag", label="Silver"
    )
    _count_is(page, 4)
    page.click(".audience-add-group")
    group = ".audience-group[data-group='1']"
    page.select_option(f"{group} .audience-type", "has_not")
    page.select_option(f"{group} .audience-tag", label="Refunded")

    # then the count follows each edit
    _count_is(page, 3)
    screenshot("broadcast-audience-builder")
    page.click("input[name=_continue]")
    page.wait_for_selector("#broadcast-review")
    broadcast = Broadcast.objects.get()
    assert broadcast.condition == {
        "and": [{"or": [{"has": gold.pk}, {"has": silver.pk}]}, {"has_not": refunded.pk}]
    }

    # when they open the review page and send a test to themselves
    page.click("#broadcast-review")
    assert page.inner_text("#recipient-count") == "3"
    page.click("#send-test")
    page.wait_for_selector("text=A test is on its way to creator@example.com")
    emails_send()

    # then the test reached them, rendered for a real subscriber
    tests = [m for m in mail.outbox if m.to == ["creator@example.com"]]
    assert len(tests) == 1 and tests[0].subject == "[Test] Members' launch"

    # when they schedule it for tomorrow morning (site time) after reading the count
    when = (timezone.localtime() + timedelta(days=1)).replace(hour=9, minute=0)
    page.check("#when-schedule")
    page.fill("#send-at", when.strftime("%Y-%m-%dT%H:%M"))
    screenshot("broadcast-confirm")
    page.click("#confirm-send")
    page.wait_for_selector("text=is scheduled for")
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SCHEDULED
    assert broadcast.send_at == when.replace(second=0, microsecond=0)

    # when the worker's sweep runs once the time has come, and one reader opens it
    assert broadcasts_send_due(now=broadcast.send_at + timedelta(seconds=1)) == 3
    emails_send()
    opened = EmailMessage.objects.filter(broadcast=broadcast).order_by("pk").first()
    for n in range(2):
        email_activity_record(
            source="test", kind="opened", event_id=f"open-{n}", message_id=opened.pk
        )

    # then the report shows the real figures, and the sent broadcast is read-only
    page.goto(f"{live_server.url}/admin/crm/broadcast/{broadcast.pk}/change/")
    report = page.locator("table.email-report")
    rows = dict(
        zip(
            report.locator("th").all_inner_texts(),
            report.locator("td").all_inner_texts(),
            strict=True,
        )
    )
    assert rows["Recipients"] == "3"
    assert (rows["Opens"], rows["Unique opens"]) == ("2", "1")
    assert page.locator("#id_subject").count() == 0
    sent_to = sorted(m.to[0] for m in mail.outbox if m.subject == "Members' launch")
    assert sent_to == ["both@example.com", "gold@example.com", "silver@example.com"]
    screenshot("broadcast-report")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def other_site(tmp_path):
    """The creator's own website: a static page on a second local port (another origin)."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _submit(page, email: str) -> str:
    page.fill("form.tessera-form input[name=email]", email)
    page.click("form.tessera-form button[type=submit]")
    page.wait_for_selector(".tessera-form-message[data-status]")
    status = page.get_attribute(".tessera-form-message", "data-status")
    page.evaluate("document.querySelector('.tessera-form-message').removeAttribute('data-status')")
    return status


def test_the_embedded_form_on_another_site_subscribes_refuses_a_bot_and_limits_a_flood(
    live_server, page, screenshot, other_site, settings
):
    # The clock starts on a minute (it keeps ticking): all 21 posts fall in one window of the
    # sliding-window limit, whatever the wall clock says.
    with time_machine.travel(MINUTE_START, tick=True):
        _embedded_form_walk(live_server, page, screenshot, other_site, settings)


def _embedded_form_walk(live_server, page, screenshot, other_site, settings):
    # given a form that adds Gold, pasted on the creator's own site (another origin)
    settings.SITE_URL = live_server.url
    gold = TagFactory(name="Gold")
    form = Form.objects.create(
        name="Newsletter", title="Get the weekly letter", kind="embed", tag_ids=[gold.pk]
    )
    folder, origin = other_site
    (folder / "index.html").write_text(
        "<!doctype html><html><head><title>Creator's site</title></head><body>"
        "<h1>Welcome to my site</h1>" + embed_snippet(form, live_server.url) + "</body></html>"
    )
    assert origin != live_server.url

    # when a reader subscribes through it
    page.goto(origin + "/index.html")
    page.fill("form.tessera-form input[name=first_name]", "Ann")
    assert _submit(page, "ann@example.com") == "200"
    screenshot("embed-form")
    events_dispatch()

    # then they are subscribed with the form's tags
    assert form.success_message in page.inner_text(".tessera-form-message")
    ann = Subscriber.objects.get(email="ann@example.com")
    assert list(ann.taggings.values_list("tag__name", flat=True)) == ["Gold"]

    # when a bot fills the hidden field too
    page.evaluate("document.querySelector('input[name=website]').value = 'http://spam.example'")
    assert _submit(page, "bot@example.com") == "200"

    # then it is told yes, but nobody is subscribed, and the refusal is recorded
    assert not Subscriber.objects.filter(email="bot@example.com").exists()
    assert Event.objects.filter(type=FORM_SPAM_REFUSED, payload__form_id=form.pk).count() == 1
    page.evaluate("document.querySelector('input[name=website]').value = ''")

    # when the same address posts 18 more times within the minute, then a 21st
    for n in range(18):
        assert _submit(page, f"reader{n}@example.com") == "200"
    assert _submit(page, "one-too-many@example.com") == "429"

    # then the 21st is refused with a message, and nothing was written for it
    assert "Too many sign-ups" in page.inner_text(".tessera-form-message")
    assert not Subscriber.objects.filter(email="one-too-many@example.com").exists()
