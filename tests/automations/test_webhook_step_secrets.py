"""What a webhook step sends (issue 14): sensitive fields redacted (H3), and no subscriber
value can change the shape of a custom JSON payload (M6)."""

import json

import pytest

from apps.crm.messaging.rendering import email_preview
from apps.crm.models import WebhookDelivery
from apps.crm.services import (
    custom_field_create,
    custom_field_mark_sensitive,
    subscriber_fields_set,
)
from tests.automations.helpers import build, on_tag, settle, tag
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

SECRET = "hunter2-plaintext"
INJECTED = 'Ada", "vip": true, "x": "'


@pytest.fixture
def person_with_password():
    password = custom_field_create(label="AccessAlly Password")
    custom_field_mark_sensitive(field=password)
    custom_field_create(label="Nickname")
    person = SubscriberFactory(first_name=INJECTED, email="ada@example.com")
    subscriber_fields_set(
        subscriber=person, values={password.key: SECRET, "nickname": 'a "quoted" nick'}
    )
    return person


def _sent_body(person, payload: str | None) -> str:
    settings = {"url": "https://hooks.example.com/in"}
    if payload is not None:
        settings["payload"] = payload
    build(triggers=on_tag("Go"), steps=[{"kind": "webhook", "settings": settings}])
    tag(person, "Go")
    settle()
    return WebhookDelivery.objects.get().body


def test_the_default_webhook_payload_redacts_sensitive_fields(person_with_password):
    body = json.loads(_sent_body(person_with_password, None))

    assert SECRET not in json.dumps(body)
    assert body["subscriber"]["fields"]["accessally_password"] == "[redacted]"
    assert body["subscriber"]["fields"]["nickname"] == 'a "quoted" nick'


def test_a_custom_payload_cannot_print_a_sensitive_field(person_with_password):
    body = _sent_body(person_with_password, '{"pw": "{{ subscriber.accessally_password }}"}')

    assert json.loads(body) == {"pw": "[redacted]"}


def test_a_name_cannot_inject_keys_into_a_json_template(person_with_password):
    body = _sent_body(
        person_with_password,
        '{"name": "{{ subscriber.first_name }}", "vip": false, "n": "{{ subscriber.nickname }}"}',
    )

    assert json.loads(body) == {"name": INJECTED, "vip": False, "n": 'a "quoted" nick'}


def test_a_name_cannot_inject_keys_into_a_text_template(person_with_password):
    # a template that is not JSON until rendered: every value is escaped inside its string
    body = _sent_body(
        person_with_password,
        '{"name": "{{ subscriber.first_name }}", "id": {{ subscriber.id }}, '
        '"email": {{ subscriber.email_address | json }}}',
    )

    assert json.loads(body) == {
        "name": INJECTED,
        "id": person_with_password.pk,
        "email": "ada@example.com",
    }


def test_a_template_that_does_not_render_to_json_fails_the_step_with_a_message(
    person_with_password,
):
    from apps.automations.models import Run, RunStatus

    build(
        triggers=on_tag("Go"),
        steps=[
            {
                "kind": "webhook",
                "settings": {
                    "url": "https://h.example.com",
                    "payload": "name={{ subscriber.id }}x",
                },
            }
        ],
    )
    tag(person_with_password, "Go")
    settle()

    run = Run.objects.get()
    assert run.status == RunStatus.FAILED
    assert "not JSON once rendered" in run.steps.last().error
    assert not WebhookDelivery.objects.exists()


def test_the_preview_redacts_sensitive_fields_unless_the_viewer_may_see_them(
    person_with_password,
):
    body = "Your password: {{ subscriber.accessally_password }}"

    hidden = email_preview(subject="s", body=body, subscriber=person_with_password)
    shown = email_preview(
        subject="s", body=body, subscriber=person_with_password, show_sensitive=True
    )

    assert hidden["body"] == "Your password: [redacted]"
    assert shown["body"] == f"Your password: {SECRET}"
