"""Bounded Liquid (issue 14, M4) and re-sending what was rendered (M3)."""

import pytest
from django.core import mail

from apps.crm import liquid
from apps.crm.liquid import TemplateError, template_render
from apps.crm.messaging.held import emails_requeue
from apps.crm.messaging.outbox import emails_enqueue
from apps.crm.messaging.rendering import Draft, email_preview
from apps.crm.messaging.sending import emails_send
from apps.crm.models import EmailMessage, EmailStatus
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

NESTED_LOOP = "{% for i in (1..1000) %}{% for j in (1..1000) %}x{% endfor %}{% endfor %}"


def _enqueue(person, body: str, subject: str = "Hello") -> EmailMessage:
    emails_enqueue(
        [Draft(subscriber=person, key="k1", kind="automation", subject=subject, body=body)]
    )
    return EmailMessage.objects.get()


def test_a_million_iteration_loop_holds_the_email_with_a_clear_reason():
    message = _enqueue(SubscriberFactory(), NESTED_LOOP)

    assert message.status == EmailStatus.HELD
    assert f"loops more than {liquid.LIQUID_LOOP_ITERATIONS_MAX:,} times" in message.error
    assert message.body_text == NESTED_LOOP  # the template is kept for a fix and a re-queue


def test_an_output_past_the_size_limit_is_refused():
    source = "{% for i in (1..1000) %}{{ big }}{% endfor %}"

    with pytest.raises(TemplateError, match="renders more than"):
        template_render(source, {"big": "y" * (liquid.LIQUID_OUTPUT_CHARS_MAX // 999)})


def test_a_render_past_its_time_is_stopped(monkeypatch):
    # the clock is read at every loop's start; a budget already spent stops the first one
    monkeypatch.setattr(liquid, "LIQUID_RENDER_SECONDS_MAX", -1.0)

    with pytest.raises(TemplateError, match="took more than"):
        template_render("{% for i in (1..3) %}{{ i }}{% endfor %}", {})
    assert template_render("no loop: {{ x }}", {"x": 1}) == "no loop: 1"


def test_the_preview_shows_the_limit_instead_of_hanging():
    preview = email_preview(subject="s", body=NESTED_LOOP, subscriber=SubscriberFactory())

    assert "loops more than" in preview["error"]


def test_a_requeued_failed_email_is_sent_as_rendered_not_rendered_again():
    # given: a subscriber whose name reads like Liquid, an email that failed to send
    person = SubscriberFactory(first_name="{{ 7 | times: 6 }}")
    message = _enqueue(person, "Hi {{ subscriber.first_name }}")
    assert message.body_text == "Hi {{ 7 | times: 6 }}"
    EmailMessage.objects.filter(pk=message.pk).update(
        status=EmailStatus.FAILED, attempts=5, error="SMTP refused"
    )

    # when
    assert emails_requeue(message_ids=[message.pk]) == 1
    emails_send()

    # then: the stored text went out, the name was not executed
    assert mail.outbox[0].body == "Hi {{ 7 | times: 6 }}"
    assert EmailMessage.objects.get().status == EmailStatus.SENT
