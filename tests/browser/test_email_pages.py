"""A subscriber following the unsubscribe link in an email, in a real browser."""

from urllib.parse import urlsplit

import pytest

from apps.crm.messaging.sequences import sequence_subscribe
from apps.crm.models import Sequence, SequenceEmail, SequenceSubscription, SubscriberState
from apps.crm.preferences import unsubscribe_url
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_unsubscribing_from_the_link_keeps_the_course_emails(
    live_server, page, screenshot, settings
):
    settings.SITE_URL = live_server.url
    person = SubscriberFactory(email="reader@example.com")
    tips = Sequence.objects.create(name="Weekly tips")
    course = Sequence.objects.create(name="Course lessons", is_purchase=True)
    for sequence in (tips, course):
        SequenceEmail.objects.create(
            sequence=sequence, position=1, subject="x", body="y", published=True, delay_days=3
        )
        sequence_subscribe(subscriber=person, sequence=sequence, source="test")

    page.goto(live_server.url + urlsplit(unsubscribe_url(person)).path)
    assert page.is_checked("input[name=keep_purchase]")
    screenshot("unsubscribe-confirm")
    page.click("#confirm-unsubscribe")
    page.wait_for_selector("#unsubscribed")
    screenshot("unsubscribed")

    person.refresh_from_db()
    assert person.state == SubscriberState.CANCELLED
    assert "emails about what you bought keep coming" in page.inner_text("#unsubscribed")
    states = dict(SequenceSubscription.objects.values_list("sequence__name", "state"))
    assert states == {"Weekly tips": "cancelled", "Course lessons": "active"}
