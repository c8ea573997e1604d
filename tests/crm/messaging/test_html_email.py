"""HTML email inside a layout, its generated text part, and the one-click unsubscribe headers,
checked on what a real SMTP server (aiosmtpd) receives."""

import email
import socket
import threading
from email import policy
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.core import mail
from django.test import Client
from django.test.utils import override_settings

from apps.api.services import api_credentials_get
from apps.crm.messaging.broadcasts import broadcast_send
from apps.crm.messaging.held import emails_requeue
from apps.crm.messaging.outbox import emails_enqueue
from apps.crm.messaging.rendering import Draft
from apps.crm.messaging.sending import emails_send
from apps.crm.messaging.sequences import sequence_subscribe, sequences_send
from apps.crm.models import (
    Broadcast,
    EmailLayout,
    EmailMessage,
    EmailStatus,
    Sequence,
    SequenceEmail,
    Subscriber,
    SubscriberState,
)
from apps.crm.preferences import subscriber_from_token, unsubscribe_url
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

SITE = settings.SITE_URL


class Sink:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_sink():
    handler = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
        ):
            yield handler
    finally:
        controller.stop()


def _parts(message):
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    return parts["text/plain"], parts["text/html"]


def _one_click(url: str):
    """What Gmail does: a POST to the header's URL, no cookie, no CSRF token."""
    browser = Client(enforce_csrf_checks=True)
    return browser.post(
        urlsplit(url).path,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )


def test_a_broadcast_and_a_sequence_email_arrive_as_html_and_text_with_one_click_headers(
    smtp_sink,
):
    # given a broadcast and a sequence email written in Markdown
    ann = SubscriberFactory(email="ann@example.com", first_name="Ann")
    bob = SubscriberFactory(email="bob@example.com", first_name="Bob")
    Broadcast.objects.create(
        subject="Launch, {{ subscriber.first_name }}",
        content="# Doors open\n\nHi **{{ subscriber.first_name }}**, [join](https://example.org/join).",
    )
    sequence = Sequence.objects.create(name="Nurture")
    SequenceEmail.objects.create(
        sequence=sequence,
        position=1,
        subject="Welcome",
        body="Hello *{{ subscriber.first_name }}*",
        published=True,
    )
    sequence_subscribe(subscriber=bob, sequence=sequence, source="test")

    # when both go out through SMTP
    broadcast_send(broadcast=Broadcast.objects.get())
    sequences_send()
    emails_send()

    # then each arrives as multipart/alternative with both one-click headers
    received = {(m["To"], m["Subject"]): m for m in smtp_sink.messages}
    assert sorted(received) == [
        ("ann@example.com", "Launch, Ann"),
        ("bob@example.com", "Launch, Bob"),
        ("bob@example.com", "Welcome"),
    ]
    text, html = _parts(received["ann@example.com", "Launch, Ann"])
    assert "<h1>Doors open</h1>" in html
    assert "<strong>Ann</strong>" in html
    assert "Doors open" in text and "join (https://example.org/join)" in text
    assert "<a " not in text
    assert f"Unsubscribe ({SITE}/email/unsubscribe/" in text
    seq_text, seq_html = _parts(received["bob@example.com", "Welcome"])
    assert "<em>Bob</em>" in seq_html and "Hello Bob" in seq_text
    for (to, _), message in received.items():
        person = ann if to == ann.email else bob
        header = message["List-Unsubscribe"].strip()
        assert header.startswith(f"<{SITE}/email/unsubscribe/") and header.endswith(">")
        token = urlsplit(header[1:-1]).path.split("/")[-2]
        assert subscriber_from_token(token, purpose="unsubscribe") == person
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # when the mailbox provider POSTs the one-click unsubscribe without cookies
    header_url = received["ann@example.com", "Launch, Ann"]["List-Unsubscribe"].strip()[1:-1]
    answer = _one_click(header_url)

    # then it answers 200 and the v3 API shows Ann cancelled (Bob untouched)
    assert answer.status_code == 200
    creds = api_credentials_get()
    v3 = Client().get(f"/v3/subscribers/{ann.pk}", {"api_secret": creds.api_secret})
    assert v3.json()["subscriber"]["state"] == "cancelled"
    assert Subscriber.objects.get(pk=bob.pk).state == SubscriberState.ACTIVE


def test_a_get_of_the_one_click_url_never_unsubscribes(client):
    # given a subscriber's unsubscribe URL
    ann = SubscriberFactory()

    # when a mail scanner fetches it
    page = client.get(urlsplit(unsubscribe_url(ann)).path)

    # then it shows the confirmation page and the subscriber stays active
    assert page.status_code == 200
    assert b"confirm-unsubscribe" in page.content
    assert Subscriber.objects.get(pk=ann.pk).state == SubscriberState.ACTIVE


def test_a_one_click_post_with_a_forged_token_changes_nothing():
    # given a subscriber and a token that is not signed
    ann = SubscriberFactory()

    # when the one-click POST arrives with a tampered URL
    answer = _one_click(unsubscribe_url(ann)[:-4] + "xyz/")

    # then it is refused and nobody is unsubscribed
    assert answer.status_code == 400
    assert Subscriber.objects.get(pk=ann.pk).state == SubscriberState.ACTIVE


def test_transactional_email_carries_no_marketing_headers_and_stays_text():
    # given a subscriber's confirmation email (transactional)
    ann = SubscriberFactory()
    emails_enqueue(
        [Draft(subscriber=ann, key="confirm:1", kind="system", subject="Confirm", body="Click")]
    )

    # when it is sent
    emails_send()

    # then it has no List-Unsubscribe headers and no HTML part
    (sent,) = mail.outbox
    assert "List-Unsubscribe" not in sent.extra_headers
    assert "List-Unsubscribe-Post" not in sent.extra_headers
    assert not getattr(sent, "alternatives", [])


def test_a_marketing_email_whose_layout_has_no_unsubscribe_link_is_refused():
    # given a layout without an unsubscribe link (slipped past the form, e.g. by a migration)
    layout = EmailLayout.objects.create(name="Bare", html="<div>{{ content }}</div>")
    broadcast = Broadcast.objects.create(subject="Hi", content="Hello", layout=layout)
    SubscriberFactory()

    # when the broadcast is sent
    broadcast_send(broadcast=broadcast)
    emails_send()

    # then nothing goes out and the email says why
    message = EmailMessage.objects.get()
    assert message.status == EmailStatus.HELD
    assert "needs an unsubscribe link" in message.error
    assert mail.outbox == []


def test_saving_a_layout_without_an_unsubscribe_link_is_refused(admin_client):
    # when a creator saves a layout without the unsubscribe link
    answer = admin_client.post(
        "/admin/crm/emaillayout/add/", {"name": "Bare", "html": "<div>{{ content }}</div>"}
    )

    # then the form says what is missing and nothing is saved
    assert answer.status_code == 200
    assert b"needs an unsubscribe link" in answer.content
    assert not EmailLayout.objects.exists()


def test_the_creators_layout_wraps_the_body_and_liquid_works_in_it():
    # given a default layout of the creator's with Liquid in it
    EmailLayout.objects.create(
        name="Brand",
        is_default=True,
        html='<table><tr><td style="color:red">Hi {{ subscriber.first_name }}</td></tr>'
        '<tr><td>{{ content }}</td></tr></table><p><a href="{{ unsubscribe_url }}">Leave</a>'
        "<script>alert(1)</script></p>",
    )
    ann = SubscriberFactory(first_name="<b>Ann</b>")
    broadcast = Broadcast.objects.create(subject="News", content="Body text")

    # when it is rendered
    broadcast_send(broadcast=broadcast)

    # then the layout wraps the body, inline styles stay, scripts and injected tags go
    message = EmailMessage.objects.get(subscriber=ann)
    assert 'style="color:red"' in message.body_html
    assert "<p>Body text</p>" in message.body_html
    assert "<script>" not in message.body_html
    assert "Leave (" in message.body_text


@pytest.mark.parametrize("state", ["cancelled", "bounced", "complained"])
def test_suppressed_states_are_never_mailed(state):
    # given a queued broadcast email to someone who then left, bounced or complained
    ann = SubscriberFactory()
    broadcast_send(broadcast=Broadcast.objects.create(subject="Hi", content="Hello"))
    Subscriber.objects.filter(pk=ann.pk).update(state=state)

    # when the sender runs
    emails_send()

    # then nothing is sent
    assert mail.outbox == []
    assert EmailMessage.objects.get().status == EmailStatus.SUPPRESSED


def test_the_preview_shows_both_parts_for_a_chosen_subscriber(admin_client):
    # given a Markdown sequence email and a subscriber
    sequence = Sequence.objects.create(name="Nurture")
    email_row = SequenceEmail.objects.create(
        sequence=sequence, position=1, subject="Hi", body="Hello **{{ subscriber.first_name }}**"
    )
    ann = SubscriberFactory(first_name="Ann")

    # when the creator previews it for Ann
    page = admin_client.get(
        f"/admin/crm/sequenceemail/{email_row.pk}/preview/", {"subscriber": ann.pk}
    )

    # then the HTML part (sandboxed) and the generated text part are both shown
    html = page.content.decode()
    assert 'id="preview-html" sandbox srcdoc="' in html
    assert "&lt;strong&gt;Ann&lt;/strong&gt;" in html
    assert "Hello Ann" in html


def test_sending_a_broadcast_asks_first_with_the_recipient_count(admin_client):
    # given a broadcast and three subscribers who take broadcasts
    for _ in range(3):
        SubscriberFactory()
    broadcast = Broadcast.objects.create(subject="Launch", content="Hi")
    changelist = "/admin/crm/broadcast/"

    # when the creator picks "send now"
    asked = admin_client.post(
        changelist, {"action": "send_now", "_selected_action": [broadcast.pk]}
    )

    # then nothing is sent yet and the page states the count
    assert asked.status_code == 200
    assert 'class="recipient-count">3<' in asked.content.decode()
    assert not EmailMessage.objects.exists()

    # when they confirm
    admin_client.post(
        changelist,
        {"action": "send_now", "_selected_action": [broadcast.pk], "confirmed": "yes"},
    )

    # then it is queued to the three, and the sent broadcast is read-only
    assert EmailMessage.objects.filter(broadcast=broadcast).count() == 3
    page = admin_client.get(f"/admin/crm/broadcast/{broadcast.pk}/change/").content.decode()
    assert 'name="subject"' not in page


def test_a_sender_outside_the_sending_domains_is_refused(admin_client, settings):
    # given a site that sends from example.com
    settings.EMAIL_SENDING_DOMAINS = ["example.com"]

    # when a creator sets a broadcast's sender on another domain
    answer = admin_client.post(
        "/admin/crm/broadcast/add/",
        {
            "subject": "Hi",
            "content": "x",
            "email_address": "me@gmail.com",
            "status": "draft",
            "body_format": "markdown",
        },
    )

    # then the form says which domains are allowed, and nothing is saved
    assert answer.status_code == 200
    assert "is not on a sending domain of this site (example.com)" in answer.content.decode()
    assert not Broadcast.objects.exists()


def test_send_days_are_weekday_checkboxes(admin_client):
    # given a sequence email
    sequence = Sequence.objects.create(name="Nurture")
    row = SequenceEmail.objects.create(sequence=sequence, position=1, subject="Hi", body="x")
    url = f"/admin/crm/sequenceemail/{row.pk}/change/"
    form = {
        "position": 1,
        "subject": "Hi",
        "body": "x",
        "delay_days": 0,
        "delay_hours": 0,
        "body_format": "markdown",
        "track_clicks": "on",
    }

    # when the creator ticks Tuesday and Thursday
    page = admin_client.get(url).content.decode()
    admin_client.post(url, {**form, "send_days": ["1", "3"]})
    none_ticked = admin_client.post(url, form).content.decode()

    # then the page offered checkboxes, the days are stored, and no day at all is refused
    assert 'type="checkbox" name="send_days" value="0"' in page
    assert SequenceEmail.objects.get(pk=row.pk).send_days == [1, 3]
    assert "Pick at least one day to send on." in none_ticked


def test_a_sequence_email_waits_for_its_send_day_and_window_in_the_sites_time_zone(settings):
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    import time_machine

    from apps.crm.models import SequenceSubscription

    # given a site in New York and an email sent only on Tuesdays between 09:00 and 11:00
    settings.TIME_ZONE = "America/New_York"
    sequence = Sequence.objects.create(name="Nurture")
    SequenceEmail.objects.create(
        sequence=sequence,
        position=1,
        subject="Hi",
        body="x",
        published=True,
        send_days=[1],
        send_window_start=time(9, 0),
        send_window_end=time(11, 0),
    )
    ny = ZoneInfo("America/New_York")

    # when someone subscribes on a Monday at 23:30 New York time (Tuesday 04:30 UTC)
    with time_machine.travel(datetime(2026, 3, 2, 23, 30, tzinfo=ny), tick=False):
        sequence_subscribe(subscriber=SubscriberFactory(), sequence=sequence, source="test")

    # then the email is due on Tuesday at 09:00 New York time
    due = SequenceSubscription.objects.get().next_send_at
    assert due.astimezone(ny) == datetime(2026, 3, 3, 9, 0, tzinfo=ny)


def test_a_held_email_released_after_the_fix_keeps_its_html_part():
    # given a broadcast held on an undefined variable
    ann = SubscriberFactory()
    broadcast = Broadcast.objects.create(subject="News", content="Hi {{ no_such_thing }}")
    broadcast_send(broadcast=broadcast)
    message = EmailMessage.objects.get(subscriber=ann)
    assert message.status == "held"

    # when the creator fixes the body and releases it
    broadcast.content = "Hi **there**"
    broadcast.save()
    emails_requeue(message_ids=[message.pk])

    # then it is rendered again through the layout, HTML part included
    message.refresh_from_db()
    assert message.status == "queued"
    assert "<strong>there</strong>" in message.body_html
    assert "Hi there" in message.body_text
