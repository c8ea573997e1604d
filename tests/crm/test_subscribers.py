import pytest
from django.core.exceptions import ValidationError

from apps.crm import event_types, services
from apps.crm.models import CustomField, Event, Subscriber, SubscriberFieldValue, SubscriberState
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def test_an_address_in_any_case_is_one_subscriber():
    first, created = services.subscriber_get_or_create(email="  Ada@Example.COM ", first_name="Ada")
    same, created_again = services.subscriber_get_or_create(email="ada@example.com")

    assert created and not created_again
    assert same.pk == first.pk
    assert first.email == "ada@example.com"
    assert Event.objects.filter(type=event_types.SUBSCRIBER_ACTIVATE).count() == 1


@pytest.mark.parametrize("email, reason", [("", "required"), ("not-an-email", "not a valid")])
def test_a_bad_address_is_refused_with_a_reason(email, reason):
    with pytest.raises(ValidationError, match=reason):
        services.subscriber_get_or_create(email=email)
    assert not Subscriber.objects.exists()


def test_an_inactive_subscriber_is_not_announced_as_active():
    services.subscriber_get_or_create(email="wait@example.com", state=SubscriberState.INACTIVE)
    assert not Event.objects.exists()


def test_changing_the_address_to_one_in_use_is_refused():
    SubscriberFactory(email="taken@example.com")
    other = SubscriberFactory(email="other@example.com")

    with pytest.raises(ValidationError, match="already uses taken@example.com"):
        services.subscriber_update(subscriber=other, email="TAKEN@example.com")
    other.refresh_from_db()
    assert other.email == "other@example.com"


def test_unsubscribe_cancels_once_and_keeps_the_subscriber():
    subscriber = SubscriberFactory()

    services.subscriber_unsubscribe(subscriber=subscriber)
    services.subscriber_unsubscribe(subscriber=subscriber)

    subscriber.refresh_from_db()
    assert subscriber.state == SubscriberState.CANCELLED
    assert subscriber.cancelled_at is not None
    assert Event.objects.filter(type=event_types.SUBSCRIBER_UNSUBSCRIBE).count() == 1


@pytest.mark.parametrize(
    "label, key",
    [
        ("Last name", "last_name"),
        ("  AccessAlly   Password ", "accessally_password"),
        ("Prénom de l'élève", "prenom_de_leleve"),
        ("!!!", "field"),
    ],
)
def test_custom_field_keys_are_derived_like_kits(label, key):
    field = services.custom_field_create(label=label)
    assert field.key == key
    assert field.label == " ".join(label.split())
    assert field.name == f"ck_field_{field.pk}_{key}"


def test_a_key_collision_gets_a_suffix_and_relabelling_keeps_the_key():
    first = services.custom_field_create(label="Company")
    second = services.custom_field_create(label="Company!")

    services.custom_field_relabel(field=first, label="Employer")

    first.refresh_from_db()
    assert (first.label, first.key) == ("Employer", "company")
    assert second.key == "company_2"


@pytest.mark.parametrize("label", ["", "   ", "company"])
def test_a_blank_or_duplicate_label_is_refused(label):
    services.custom_field_create(label="Company")
    with pytest.raises(ValidationError):
        services.custom_field_create(label=label)
    assert CustomField.objects.count() == 1


def test_setting_fields_writes_events_only_for_changes():
    subscriber = SubscriberFactory()
    services.custom_field_create(label="City")
    services.custom_field_create(label="Plan")

    changed = services.subscriber_fields_set(
        subscriber=subscriber, values={"city": "Oslo", "plan": ""}
    )
    unchanged = services.subscriber_fields_set(subscriber=subscriber, values={"city": "Oslo"})
    cleared = services.subscriber_fields_set(subscriber=subscriber, values={"city": None})

    assert (changed, unchanged, cleared) == (["city"], [], ["city"])
    payloads = list(
        Event.objects.filter(type=event_types.FIELD_VALUE_UPDATED)
        .order_by("pk")
        .values_list("payload", flat=True)
    )
    assert [(p["key"], p["old"], p["new"]) for p in payloads] == [
        ("city", "", "Oslo"),
        ("city", "Oslo", ""),
    ]
    assert not SubscriberFieldValue.objects.exists()


def test_an_unknown_field_key_writes_nothing_and_names_the_key():
    subscriber = SubscriberFactory()
    services.custom_field_create(label="City")

    with pytest.raises(ValidationError, match="Unknown custom field.*shoe_size"):
        services.subscriber_fields_set(
            subscriber=subscriber, values={"city": "Oslo", "shoe_size": 9}
        )

    assert not SubscriberFieldValue.objects.exists()
    assert not Event.objects.filter(type=event_types.FIELD_VALUE_UPDATED).exists()


def test_deleting_a_field_deletes_its_values():
    subscriber = SubscriberFactory()
    field = services.custom_field_create(label="City")
    services.subscriber_fields_set(subscriber=subscriber, values={"city": "Oslo"})

    services.custom_field_delete(field=field)

    assert not SubscriberFieldValue.objects.exists()
