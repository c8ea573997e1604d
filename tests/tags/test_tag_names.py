"""Tag names fold the dash family like case: suggestions as a name is typed, and the
migration that merged the twins made before."""

import importlib

import pytest
from django.apps import apps
from django.urls import reverse

from apps.automations.models import Node, Trigger
from apps.crm.models import Broadcast, Event, Form, Hook
from apps.members.models import Operation
from apps.members.services import endpoint_mint
from apps.offerings.services import offering_create
from apps.tags.event_types import TAG_ADD
from apps.tags.models import Tag, Tagging
from apps.tags.services import tag_bulk_add, tag_get_or_create
from tests.automations.helpers import build
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

_merge = importlib.import_module("apps.tags.migrations.0002_tag_name_dashes_13b").merge_twins


def _suggest(client, text: str) -> dict:
    response = client.get(reverse("admin:tags_tag_suggest"), {"q": text})
    assert response.status_code == 200
    return response.json()


def test_a_hyphen_typed_finds_the_offerings_en_dash_tag(admin_client):
    # given
    offering_create(name="Foundation Course")
    tag_get_or_create(name="Foundation Course Alumni")

    # when
    whole = _suggest(admin_client, "foundation course - purchase success")
    part = _suggest(admin_client, "course -")
    new = _suggest(admin_client, "Brand new")

    # then
    assert [t["name"] for t in whole["results"]] == ["Foundation Course – Purchase Success"]
    assert whole["match"] == "Foundation Course – Purchase Success"
    assert len(part["results"]) == 4 and part["match"] is None  # the four convention tags
    assert new == {"results": [], "match": None}


def test_suggestions_rank_the_exact_name_then_prefixes_and_need_the_view_permission(
    admin_client, client
):
    for name in ("Paid Member", "Member", "Gold Member", "Member Since 2020"):
        tag_get_or_create(name=name)

    found = [t["name"] for t in _suggest(admin_client, "member")["results"]]

    assert found == ["Member", "Member Since 2020", "Gold Member", "Paid Member"]
    assert client.get(reverse("admin:tags_tag_suggest"), {"q": "m"}).status_code == 302


def _twin(name: str) -> Tag:
    """A tag as the old key (case folded only) let it be made beside its dash twin."""
    return Tag.objects.create(name=name, name_key=name.casefold())


def test_the_migration_merges_dash_twins_keeping_everything_that_named_either():
    # given: the offering's en-dash tag and a hyphen twin typed by hand, each in use
    offering = offering_create(name="Foundation Course")
    kept = offering.purchase_tag
    twin = _twin("Foundation Course - Purchase Success")
    both, only_twin = SubscriberFactory(), SubscriberFactory()
    tag_bulk_add(tag=kept, subscriber_ids=[both.pk], source="test")
    tag_bulk_add(tag=twin, subscriber_ids=[both.pk, only_twin.pk], source="test")
    flow = build(
        triggers=[{"event_type": "tag_add", "tag": "Go"}],
        steps=[{"kind": "add_tag", "settings": {"tag": "Go"}}],
    )
    Trigger.objects.filter(automation=flow).update(tag=twin)
    Node.objects.filter(automation=flow).update(settings={"tag_id": twin.pk})
    condition = Node.objects.create(
        automation=flow,
        kind="condition",
        position=5,
        settings={"condition": {"or": [{"has": twin.pk}, {"has_not": kept.pk}]}},
    )
    endpoint = endpoint_mint(operation=Operation.UPDATE, offering=offering, trigger_tag=twin)
    form = Form.objects.create(name="Sign up", tag_ids=[twin.pk])
    hook = Hook.objects.create(
        event_name="subscriber.tag_add",
        tag_id=twin.pk,
        target_url="https://example.com/h",
        secret="s",
    )
    broadcast = Broadcast.objects.create(subject="News", condition={"has": twin.pk})
    twin_events = Event.objects.filter(type=TAG_ADD, payload__tag_id=twin.pk).count()

    # when
    _merge(apps, None)

    # then: one tag, under the new key, named as the offering named it
    assert not Tag.objects.filter(pk=twin.pk).exists()
    kept.refresh_from_db()
    assert (kept.name, kept.name_key) == (
        "Foundation Course – Purchase Success",
        "foundation course-purchase success",
    )
    assert set(Tagging.objects.filter(tag=kept).values_list("subscriber_id", flat=True)) == {
        both.pk,
        only_twin.pk,
    }
    assert Trigger.objects.get(automation=flow).tag_id == kept.pk
    condition.refresh_from_db()
    assert condition.settings == {"condition": {"or": [{"has": kept.pk}, {"has_not": kept.pk}]}}
    assert Node.objects.get(automation=flow, kind="add_tag").settings == {"tag_id": kept.pk}
    endpoint.refresh_from_db()
    form.refresh_from_db()
    hook.refresh_from_db()
    broadcast.refresh_from_db()
    assert (endpoint.trigger_tag_id, form.tag_ids, hook.tag_id) == (kept.pk, [kept.pk], kept.pk)
    assert broadcast.condition == {"has": kept.pk}
    assert Event.objects.filter(type=TAG_ADD, payload__tag_id=kept.pk).count() >= twin_events


def test_the_migration_leaves_distinct_names_and_rekeys_them():
    # given
    spaced = _twin("Course – Paid")
    other = _twin("Module 1 Access")

    # when
    _merge(apps, None)

    # then
    assert dict(Tag.objects.values_list("pk", "name_key")) == {
        spaced.pk: "course-paid",
        other.pk: "module 1 access",
    }


def test_a_forms_tags_and_a_hooks_tag_are_typed_by_name_in_the_admin(admin_client):
    # given
    vip = tag_get_or_create(name="VIP Member")[0]
    form_add = reverse("admin:crm_form_add")
    hook_add = reverse("admin:crm_hook_add")

    # when
    admin_client.post(
        form_add,
        {
            "name": "Sign up",
            "kind": "hosted",
            "sign_up_button_text": "Go",
            "success_message": "Thanks",
            "tags": "vip member, Brand New",
        },
    )
    unknown = admin_client.post(
        hook_add,
        {"event_name": "tag_add", "tag": "No such tag", "target_url": "https://example.com/h"},
    )
    admin_client.post(
        hook_add,
        {"event_name": "tag_add", "tag": "  vip MEMBER", "target_url": "https://example.com/h"},
    )

    # then: names became ids (a new one made), and an unknown hook tag is refused
    form = Form.objects.get()
    assert form.tag_ids == [vip.pk, Tag.objects.get(name="Brand New").pk]
    assert "No tag is named" in unknown.content.decode()
    assert Hook.objects.get().tag_id == vip.pk
    page = admin_client.get(reverse("admin:crm_form_change", args=[form.pk])).content.decode()
    assert 'value="VIP Member, Brand New"' in page and "data-tag-input" in page


def test_autocompletes_over_tags_fold_dashes(admin_client):
    offering_create(name="Foundation Course")

    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "term": "course - purchase",
            "app_label": "offerings",
            "model_name": "lesson",
            "field_name": "completion_tag",
        },
    )

    assert [r["text"] for r in response.json()["results"]] == [
        "Foundation Course – Purchase Success"
    ]
