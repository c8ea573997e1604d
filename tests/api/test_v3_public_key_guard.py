"""What the public v3 key (published in every form page) may not do (issue 14, M2): write a
sensitive field, write a field an access-granting automation reads, or start a chain of
automations that ends in access, however long the chain."""

import pytest

from apps.crm.models import SubscriberFieldValue
from apps.crm.services import custom_field_create, custom_field_mark_sensitive
from apps.tags.models import Tagging
from apps.tags.services import tag_get_or_create
from tests.automations.helpers import add, build, on_tag, when
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db

FC = "Foundation Course"


def _subscribe(v3, tag_name: str, **body):
    tag_id = tag_get_or_create(name=tag_name)[0].pk
    return v3(secret=False).post(f"tags/{tag_id}/subscribe", {"email": "a@example.com", **body})


def test_the_public_key_cannot_write_a_sensitive_field(v3):
    password = custom_field_create(label="AccessAlly Password")
    custom_field_mark_sensitive(field=password)

    refused = _subscribe(v3, "Newsletter", fields={password.key: "chosen-by-attacker"})
    allowed = v3().post(
        f"tags/{tag_get_or_create(name='Newsletter')[0].pk}/subscribe",
        {"email": "a@example.com", "fields": {password.key: "set-by-the-owner"}},
    )

    assert refused.status_code == 401
    assert "sensitive field 'accessally_password'" in refused.json()["message"]
    assert allowed.status_code == 200
    assert SubscriberFieldValue.objects.get().value == "set-by-the-owner"


def test_the_guard_follows_an_automation_chain_to_its_end(v3):
    # given: "Module 1 Complete" -> "Step A" -> "Step B" -> Module 2 access, three automations
    course = weekly_course(FC)
    module_two = course.modules.get(position=2).access_tag.name
    build(triggers=on_tag(f"{FC} – Module 1 Complete"), steps=[add("Step A")])
    build(triggers=on_tag("Step A"), steps=[add("Step B")])
    build(triggers=on_tag("Step B"), steps=[add(module_two)])
    build(triggers=on_tag("Newsletter"), steps=[add("Reader")])

    # when
    early = _subscribe(v3, f"{FC} – Module 1 Complete")
    harmless = _subscribe(v3, "Newsletter")
    owner = v3().post(
        f"tags/{tag_get_or_create(name=f'{FC} – Module 1 Complete')[0].pk}/subscribe",
        {"email": "b@example.com"},
    )

    # then: nothing of the refused call was written
    assert early.status_code == 401
    assert "grant access" in early.json()["message"]
    assert harmless.status_code == owner.status_code == 200
    assert not Tagging.objects.filter(
        subscriber__email="a@example.com", tag__name__contains="Module"
    ).exists()


def test_a_draft_automation_is_no_chain(v3):
    course = weekly_course(FC)
    module_two = course.modules.get(position=2).access_tag.name
    build(triggers=on_tag("Step A"), steps=[add(module_two)], status="draft")

    assert _subscribe(v3, "Step A").status_code == 200


def test_the_public_key_cannot_write_a_field_an_access_automation_reads(v3):
    # given: an automation that grants Module 2 to those whose "score" field passes
    course = weekly_course(FC)
    score = custom_field_create(label="Score")
    module_two = course.modules.get(position=2).access_tag.name
    build(
        triggers=on_tag("Quiz done"),
        steps=[
            when(
                {"field": {"key": score.key, "op": "equals", "value": "100"}},
                yes=[add(module_two)],
                no=[],
            )
        ],
    )
    custom_field_create(label="Shoe size")

    refused = _subscribe(v3, "Newsletter", fields={score.key: "100"})
    allowed = _subscribe(v3, "Newsletter", fields={"shoe_size": "9"})

    assert refused.status_code == 401
    assert "'score'" in refused.json()["message"]
    assert allowed.status_code == 200
