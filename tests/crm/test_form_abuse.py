"""The hosted double opt-in form is no mail relay (issue 14, M5): limited per sender address
and per mailbox, a honeypot for bots, and no sender text in the confirmation email."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apps.crm.messaging.sending import emails_send
from apps.crm.models import Form, Subscriber
from apps.crm.views import (
    FORM_POSTS_PER_ADDRESS_PER_HOUR,
    FORM_POSTS_PER_EMAIL_PER_HOUR,
    HONEYPOT_FIELD,
)

pytestmark = pytest.mark.django_db

SPAM = "Cheap pills at http://spam.example"


@pytest.fixture
def form():
    return Form.objects.create(name="Confirmed list", double_opt_in=True)


def _post(client, form, email, *, addr="198.51.100.7", **extra):
    return client.post(
        reverse("crm:form", args=[form.pk]), {"email": email, **extra}, REMOTE_ADDR=addr
    )


def test_the_confirmation_email_carries_none_of_the_senders_text(client, form):
    _post(client, form, "victim@example.com", first_name=SPAM)
    emails_send()

    assert len(mail.outbox) == 1
    assert "spam.example" not in mail.outbox[0].body
    assert mail.outbox[0].body.startswith("Hello,\n")


def test_one_mailbox_gets_a_few_confirmations_an_hour_whatever_the_senders(client, form):
    # a post every two minutes (each minute's confirmation is a new email) from new addresses,
    # inside one clock hour: the limiter's sliding window weighs the previous hour's count by
    # its overlap, so a run straddling the hour would measure that estimate, not this rule
    start = timezone.now().replace(minute=1, second=0, microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        for n in range(FORM_POSTS_PER_EMAIL_PER_HOUR + 3):
            page = _post(client, form, "victim@example.com", addr=f"198.51.100.{n + 1}")
            assert page.status_code == 200 and "Check your email" in page.content.decode()
            clock.shift(timedelta(minutes=2))
        emails_send()

    assert len(mail.outbox) == FORM_POSTS_PER_EMAIL_PER_HOUR


def test_one_sender_address_is_limited_with_a_message(client, form):
    for n in range(FORM_POSTS_PER_ADDRESS_PER_HOUR):
        assert _post(client, form, f"p{n}@example.com").status_code == 200

    page = _post(client, form, "one-more@example.com")

    assert page.status_code == 429
    assert "Too many sign-ups from your network" in page.content.decode()
    assert not Subscriber.objects.filter(email="one-more@example.com").exists()
    assert _post(client, form, "other@example.com", addr="203.0.113.5").status_code == 200


def test_a_filled_honeypot_looks_like_success_and_does_nothing(client, form):
    page = _post(client, form, "victim@example.com", **{HONEYPOT_FIELD: "http://spam.example"})
    emails_send()

    assert "Check your email" in page.content.decode()
    assert not Subscriber.objects.exists()
    assert mail.outbox == []


def test_the_honeypot_is_on_the_page_out_of_sight(client, form):
    page = client.get(reverse("crm:form", args=[form.pk])).content.decode()

    assert f'name="{HONEYPOT_FIELD}"' in page and 'class="hp"' in page
