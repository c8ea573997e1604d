import pytest

from apps.crm.models import CustomField, SubscriberFieldValue
from apps.crm.services import custom_field_create, subscriber_fields_set
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def test_list_create_one_and_many_relabel_and_delete(v3):
    one = v3().post("custom_fields", {"label": "Last name"})
    many = v3().post("custom_fields", {"label": ["City", "Plan"]})
    listed = v3(secret=False).get("custom_fields").json()["custom_fields"]
    field = CustomField.objects.get(key="city")
    relabel = v3().put(f"custom_fields/{field.pk}", {"label": "Town"})
    subscriber_fields_set(subscriber=SubscriberFactory(), values={"plan": "gold"})
    deleted = v3().delete(f"custom_fields/{CustomField.objects.get(key='plan').pk}")

    assert one.status_code == 200
    assert one.json() == {
        "id": one.json()["id"],
        "name": f"ck_field_{one.json()['id']}_last_name",
        "key": "last_name",
        "label": "Last name",
    }
    assert [f["key"] for f in many.json()] == ["city", "plan"]
    assert len(listed) == 3
    assert relabel.status_code == 204
    field.refresh_from_db()
    assert (field.label, field.key) == ("Town", "city")
    assert deleted.status_code == 204
    assert not SubscriberFieldValue.objects.exists()


def test_creating_needs_the_secret(v3):
    assert v3(secret=False).post("custom_fields", {"label": "X"}).status_code == 401


@pytest.mark.parametrize("body", [{"label": ""}, {"label": "city"}, {"label": 5}, {}])
def test_a_blank_duplicate_or_malformed_label_is_a_422(v3, body):
    custom_field_create(label="City")
    response = v3().post("custom_fields", body)
    assert response.status_code == 422
    assert CustomField.objects.count() == 1


def test_unknown_field_is_a_404(v3):
    assert v3().put("custom_fields/999", {"label": "x"}).status_code == 404
    assert v3().delete("custom_fields/999").status_code == 404
