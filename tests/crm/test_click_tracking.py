"""Tessera's own click tracking: a signed redirect that records the click once, goes only to
URLs that were in the email, fires Kit's link_click hook and moves a run waiting on "link
clicked"; and the optional open pixel."""

import json
import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from django.core import mail

from apps.crm.hooks import hook_create
from apps.crm.messaging.broadcasts import broadcast_send
from apps.crm.messaging.sending import emails_send
from apps.crm.models import (
    Broadcast,
    EmailActivity,
    EmailMessage,
    Event,
    WebhookDelivery,
)
from tests.automations.helpers import build, on_tag, run_of, settle, tag, tags_of
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

OFFER = "https://example.org/offer?x=1&y=2"


def _sent_html() -> str:
    (sent,) = mail.outbox
    ((html, _),) = sent.alternatives
    return html


def _tracked_links(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', html) if "/e/c/" in h]


def test_a_click_is_recorded_once_redirects_fires_the_hook_and_moves_a_waiting_run(client):
    # given a subscriber waiting in a flow for a click on the offer, and Kit's link_click hook
    ann = SubscriberFactory(email="ann@example.com")
    flow = build(
        triggers=on_tag("Prospect"),
        steps=[
            {
                "kind": "event",
                "settings": {"event_type": "link_click", "url": OFFER},
                "label": "clicked the offer",
            },
            {"kind": "add_tag", "settings": {"tag": "Interested"}, "label": "add Interested"},
        ],
    )
    tag(ann, "Prospect")
    settle()
    assert run_of(flow, ann).status == "waiting"
    hook_create(
        event_name="subscriber.link_click",
        target_url="https://hooks.example.org/kit",
        filter_value=OFFER,
    )
    # and a broadcast with the offer link, sent
    broadcast_send(
        broadcast=Broadcast.objects.create(subject="Offer", content=f"[See the offer]({OFFER})")
    )
    emails_send()
    html = _sent_html()
    (tracked,) = _tracked_links(html)
    assert OFFER not in html.replace("&amp;", "&")  # the original only inside the token

    # when Ann clicks it
    answer = client.get(urlsplit(tracked).path)

    # then she lands on the original URL, the click is recorded once
    assert answer.status_code == 302
    assert answer["Location"] == OFFER
    message = EmailMessage.objects.get()
    assert list(EmailActivity.objects.values_list("kind", "url", "message")) == [
        ("clicked", OFFER, message.pk)
    ]
    (click,) = Event.objects.filter(type="link_click")
    assert click.payload["initiator_value"] == OFFER

    # and the hook fires with Kit's payload, and the waiting run moves on
    settle()
    (delivery,) = WebhookDelivery.objects.filter(hook__event_name="link_click")
    assert json.loads(delivery.body)["subscriber"]["email_address"] == "ann@example.com"
    assert run_of(flow, ann).status == "completed"
    assert "Interested" in tags_of(ann)


def test_the_redirect_goes_only_to_urls_that_were_in_the_email(client):
    # given a sent email with one tracked link
    SubscriberFactory()
    broadcast_send(broadcast=Broadcast.objects.create(subject="Hi", content=f"[x]({OFFER})"))
    emails_send()
    (tracked,) = _tracked_links(_sent_html())
    path = urlsplit(tracked).path

    # when someone edits the token to point elsewhere
    forged = client.get(path.replace("/e/c/", "/e/c/x"))
    tampered = client.get(path[:-6] + "AAAAA/")

    # then nothing redirects and nothing is recorded
    assert forged.status_code == 400 and tampered.status_code == 400
    assert not EmailActivity.objects.exists()


def test_footer_links_are_not_rewritten_and_tracking_can_be_switched_off():
    # given a broadcast with click tracking off
    SubscriberFactory()
    broadcast_send(
        broadcast=Broadcast.objects.create(
            subject="Hi", content=f"[x]({OFFER})", track_clicks=False
        )
    )

    # when it is sent
    emails_send()

    # then its links are the originals, the unsubscribe link included
    html = _sent_html()
    assert _tracked_links(html) == []
    assert OFFER.replace("&", "&amp;") in html
    assert "/email/unsubscribe/" in html


def test_the_open_pixel_records_an_open(client):
    # given a broadcast with the open pixel on
    ann = SubscriberFactory()
    broadcast_send(
        broadcast=Broadcast.objects.create(subject="Hi", content="Hello", track_opens=True)
    )
    emails_send()
    (pixel,) = re.findall(r'<img src="([^"]+/e/o/[^"]+)"', _sent_html())

    # when the mail client loads it
    answer = client.get(urlsplit(unescape(pixel)).path)

    # then it gets a GIF and the open is recorded as an event
    assert answer.status_code == 200 and answer["Content-Type"] == "image/gif"
    assert Event.objects.filter(type="email_opened", subscriber=ann).count() == 1


def test_the_broadcast_page_shows_its_report(admin_client, client):
    # given a sent broadcast with one tracked click
    SubscriberFactory()
    broadcast = Broadcast.objects.create(subject="Hi", content=f"[x]({OFFER})")
    broadcast_send(broadcast=broadcast)
    emails_send()
    (tracked,) = _tracked_links(_sent_html())
    client.get(urlsplit(tracked).path)

    # when the creator opens the broadcast
    page = admin_client.get(f"/admin/crm/broadcast/{broadcast.pk}/change/").content.decode()

    # then the report lists recipients and clicks
    assert "<tr><th>Recipients</th><td>1</td></tr>" in page
    assert "<tr><th>Unique clicks</th><td>1</td></tr>" in page
