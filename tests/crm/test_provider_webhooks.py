"""The providers' tracking webhooks at /anymail/<esp>/tracking/: each family's documented
bounce and complaint payloads, posted with the secret, set the subscriber's state once; a
wrong or missing secret changes nothing. Payloads follow the providers' documentation
(Postmark bounce webhook, SES event publishing through SNS, Mailgun's event-data webhooks,
SendGrid's Event Webhook)."""

import base64
import hashlib
import hmac
import json

import pytest
from django.core import mail
from django.test.utils import override_settings

from apps.crm.messaging.broadcasts import broadcast_send
from apps.crm.messaging.sending import emails_send
from apps.crm.models import (
    Broadcast,
    EmailActivity,
    EmailMessage,
    EmailStatus,
    Event,
    Subscriber,
    SubscriberState,
)
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

SECRET = "tessera:hook-secret-17"
MAILGUN_KEY = "mailgun-signing-key-17"


@pytest.fixture(autouse=True)
def _anymail_settings():
    with override_settings(
        ANYMAIL={"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    ):
        yield


def _auth(secret: str = SECRET) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def _postmark(kind: str, email: str) -> tuple[str, dict, dict]:
    record = {"bounce": ("Bounce", "HardBounce"), "complaint": ("SpamComplaint", "SpamComplaint")}
    record_type, bounce_type = record[kind]
    body = {
        "RecordType": record_type,
        "ID": 4323372036854775807 if kind == "bounce" else 4323372036854775808,
        "Type": bounce_type,
        "TypeCode": 1 if kind == "bounce" else 512,
        "Name": "Hard bounce" if kind == "bounce" else "Spam complaint",
        "Tag": "Test",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {},
        "ServerID": 23,
        "MessageStream": "outbound",
        "Description": "The server was unable to deliver your message.",
        "Details": "Test bounce details",
        "Email": email,
        "From": "sender@example.com",
        "BouncedAt": "2019-11-05T16:33:54.9070259Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Test subject",
    }
    return "postmark", body, {}


def _ses(kind: str, email: str) -> tuple[str, dict, dict]:
    mail_object = {
        "timestamp": "2018-03-22T15:21:29.000Z",
        "source": "sender@example.com",
        "messageId": "01000162a6f7cd9c-example",
        "destination": [email],
    }
    if kind == "bounce":
        ses_event = {
            "eventType": "Bounce",
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {"emailAddress": email, "diagnosticCode": "smtp; 550 5.1.1 user unknown"}
                ],
                "timestamp": "2018-03-22T15:21:30.000Z",
                "feedbackId": "01000162a6f7d1a2-example",
            },
            "mail": mail_object,
        }
    else:
        ses_event = {
            "eventType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": email}],
                "timestamp": "2018-03-22T15:21:31.000Z",
                "feedbackId": "01000162a6f7d5b3-example",
                "complaintFeedbackType": "abuse",
            },
            "mail": mail_object,
        }
    sns_id = f"8a1f7c1e-sns-{kind}"
    body = {
        "Type": "Notification",
        "MessageId": sns_id,
        "TopicArn": "arn:aws:sns:us-east-1:111111111111:ses-events",
        "Message": json.dumps(ses_event),
        "Timestamp": "2018-03-22T15:21:31.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }
    headers = {"HTTP_X_AMZ_SNS_MESSAGE_TYPE": "Notification", "HTTP_X_AMZ_SNS_MESSAGE_ID": sns_id}
    return "amazon_ses", body, headers


def _mailgun(kind: str, email: str) -> tuple[str, dict, dict]:
    token = f"token-{kind}-c6f4bd5e9e1ee3c35a0b6e3e9bd2d8d2"
    timestamp = "1529006854"
    signature = hmac.new(
        MAILGUN_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    event_data = {
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": 1521233195.375624,
        "log-level": "error" if kind == "bounce" else "warn",
        "event": "failed" if kind == "bounce" else "complained",
        "recipient": email,
        "message": {"headers": {"message-id": "20130503192659.13651.20287@mg.example.com"}},
        "user-variables": {},
        "tags": [],
    }
    if kind == "bounce":
        event_data.update(
            severity="permanent",
            reason="bounce",
            **{"delivery-status": {"code": 550, "message": "No such user", "description": ""}},
        )
    body = {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event_data,
    }
    return "mailgun", body, {}


def _sendgrid(kind: str, email: str) -> tuple[str, list, dict]:
    event = {
        "email": email,
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "bounce" if kind == "bounce" else "spamreport",
        "category": "cat facts",
        "sg_event_id": f"6g4ZI7SA-xmRDv57GoPIPw-{kind}",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
    }
    if kind == "bounce":
        event.update(reason="500 unknown recipient", status="5.0.0", type="bounce")
    return "sendgrid", [event], {}


PROVIDERS = [_postmark, _ses, _mailgun, _sendgrid]
OUTCOMES = [("bounce", SubscriberState.BOUNCED), ("complaint", SubscriberState.COMPLAINED)]


def _post(client, esp: str, body, headers: dict, auth: dict):
    return client.post(
        f"/anymail/{esp}/tracking/",
        json.dumps(body),
        content_type="application/json",
        **headers,
        **auth,
    )


@pytest.mark.parametrize("payload", PROVIDERS, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("kind,state", OUTCOMES, ids=[k for k, _ in OUTCOMES])
def test_a_bounce_or_complaint_suppresses_the_subscriber_once(client, payload, kind, state):
    # given a subscriber who was sent a broadcast
    ann = SubscriberFactory(email="ann@example.com")
    broadcast_send(broadcast=Broadcast.objects.create(subject="Hi", content="Hello"))
    emails_send()
    esp, body, headers = payload(kind, ann.email)

    # when the provider posts its event twice (providers retry on any doubt)
    first = _post(client, esp, body, headers, _auth())
    second = _post(client, esp, body, headers, _auth())

    # then the subscriber is suppressed and the event is recorded once
    assert (first.status_code, second.status_code) == (200, 200)
    assert Subscriber.objects.get(pk=ann.pk).state == state
    assert EmailActivity.objects.filter(subscriber=ann).count() == 1
    event_type = "subscriber_bounce" if kind == "bounce" else "subscriber_complain"
    assert Event.objects.filter(subscriber=ann, type=event_type).count() == 1

    # and is never mailed again
    mail.outbox.clear()
    broadcast_send(broadcast=Broadcast.objects.create(subject="Again", content="Hello"))
    Broadcast.objects.create(subject="Queued before", content="x")
    EmailMessage.objects.filter(subscriber=ann, status=EmailStatus.SENT).update(
        status=EmailStatus.QUEUED
    )
    emails_send()
    assert mail.outbox == []


@pytest.mark.parametrize("payload", PROVIDERS, ids=lambda f: f.__name__.strip("_"))
def test_a_wrong_secret_changes_nothing(client, payload):
    # given a subscriber
    ann = SubscriberFactory(email="ann@example.com")
    esp, body, headers = payload("bounce", ann.email)

    # when a bounce arrives with a wrong secret, or none
    wrong = _post(client, esp, body, headers, _auth("tessera:guess"))
    missing = _post(client, esp, body, headers, {})

    # then it is refused and nothing changes
    assert wrong.status_code in (400, 401, 403)
    assert missing.status_code in (400, 401, 403)
    assert Subscriber.objects.get(pk=ann.pk).state == SubscriberState.ACTIVE
    assert not EmailActivity.objects.exists()


def test_without_a_configured_secret_the_webhooks_refuse_everything(client):
    # given a site with no ANYMAIL_WEBHOOK_SECRET
    ann = SubscriberFactory(email="ann@example.com")
    esp, body, headers = _postmark("bounce", ann.email)

    # when a bounce arrives (with any credentials)
    with override_settings(ANYMAIL={}):
        answer = _post(client, esp, body, headers, _auth())

    # then it is refused with the reason and nothing changes
    assert answer.status_code == 403
    assert "ANYMAIL_WEBHOOK_SECRET" in answer.json()["error"]
    assert Subscriber.objects.get(pk=ann.pk).state == SubscriberState.ACTIVE


def test_an_unreadable_payload_is_a_400_not_a_500(client):
    # when a post with the secret carries something that is not a provider's event
    answer = client.post(
        "/anymail/postmark/tracking/", "not json", content_type="application/json", **_auth()
    )

    # then it says so
    assert answer.status_code == 400
    assert "error" in answer.json()


def test_an_open_and_a_click_reported_by_the_provider_are_recorded_on_the_email(client):
    # given a sent broadcast email whose id the provider echoes back in its metadata
    ann = SubscriberFactory(email="ann@example.com")
    broadcast_send(broadcast=Broadcast.objects.create(subject="Hi", content="Hello"))
    emails_send()
    message = EmailMessage.objects.get()
    base = {
        "email": ann.email,
        "timestamp": 1513299569,
        "smtp-id": "<x@y>",
        "tessera_email": str(message.pk),
    }
    events = [
        {**base, "event": "open", "sg_event_id": "open-1"},
        {**base, "event": "click", "sg_event_id": "click-1", "url": "https://example.org/a"},
    ]

    # when SendGrid reports them
    answer = _post(client, "sendgrid", events, {}, _auth())

    # then both are on the email and in the subscriber's events
    assert answer.status_code == 200
    assert sorted(message.activity.values_list("kind", flat=True)) == ["clicked", "opened"]
    click = Event.objects.get(type="link_click")
    assert click.payload["url"] == "https://example.org/a"
    assert click.payload["broadcast_id"] == message.broadcast_id
    assert Event.objects.filter(type="email_opened", subscriber=ann).count() == 1
