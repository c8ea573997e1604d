"""Sensitive custom fields (a set-field step may write one): never in the event log."""

import pytest

from apps.crm.models import Event
from apps.crm.services import (
    custom_field_create,
    custom_field_mark_sensitive,
    subscriber_fields_set,
)
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def test_a_sensitive_field_never_reaches_the_event_log():
    field = custom_field_create(label="accessally_password")
    custom_field_mark_sensitive(field=field)
    person = SubscriberFactory()

    subscriber_fields_set(subscriber=person, values={"accessally_password": "hunter2-secret"})

    payload = Event.objects.get(type="field_value_updated").payload
    assert payload["new"] == "[redacted]"
    assert "hunter2-secret" not in str(list(Event.objects.values_list("payload", flat=True)))
