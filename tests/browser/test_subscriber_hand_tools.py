"""The subscriber page's hand tools, as a creator uses them: tag one person by typing part of a
tag's name, edit a field value, and see both on the timeline."""

import pytest

from apps.crm.services import custom_field_create
from apps.offerings.services import offering_create
from apps.tags.models import Tag
from apps.tags.services import tag_create
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _login(page, live_server):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def _suggestions(page) -> list[str]:
    listbox = page.locator("#tool-tags .tag-input-list")
    listbox.locator("li").first.wait_for()
    return listbox.locator("li").all_inner_texts()


def test_a_creator_tags_one_subscriber_by_typing_and_edits_a_field_value(
    live_server, page, screenshot, admin_user
):
    # given: a subscriber, the tags an offering makes (en dash) and one of the creator's
    person = SubscriberFactory(email="mia@example.com", first_name="Mia")
    offering_create(name="Foundation Course")
    tag_create(name="VIP Member")
    custom_field_create(label="City")
    _login(page, live_server)
    page.goto(f"{live_server.url}/admin/crm/subscriber/{person.pk}/change/")
    tag_input = page.locator("#subscriber-tag-name")

    # when: part of a name, then the suggestion
    tag_input.press_sequentially("vip")
    assert _suggestions(page) == ["VIP Member"]
    page.locator("#tool-tags .tag-input-list li", has_text="VIP Member").click()
    assert "Existing tag: VIP Member" in page.locator("#tool-tags .tag-input-hint").inner_text()
    page.click("#subscriber-tag-add")
    page.locator("#tool-tags li.tag-chip", has_text="VIP Member").wait_for()

    # then: the tag is on them, and on the timeline
    assert "Tag added: VIP Member" in page.locator("#timeline").inner_text()

    # when: a field value edited
    page.fill("#field-city", "Oslo")
    page.click("#subscriber-fields-save")
    page.locator(".messagelist", has_text="Saved city").wait_for()

    # then
    assert page.input_value("#field-city") == "Oslo"
    assert "Oslo" in page.locator("#timeline").inner_text()

    # when: the offering's tag typed with a hyphen
    tag_input = page.locator("#subscriber-tag-name")
    tag_input.press_sequentially("foundation course - purchase success")

    # then: it finds the en-dash tag and says so, rather than offering to make a new one
    assert _suggestions(page) == ["Foundation Course – Purchase Success"]
    hint = page.locator("#tool-tags .tag-input-hint")
    assert "Existing tag: Foundation Course – Purchase Success" in hint.inner_text()
    page.click("#subscriber-tag-add")
    page.locator("#tool-tags li.tag-chip", has_text="Purchase Success").wait_for()
    assert (
        "Tag added: Foundation Course – Purchase Success" in page.locator("#timeline").inner_text()
    )
    assert Tag.objects.filter(name__icontains="purchase success").count() == 1

    # and a name nobody has used says it will make a new tag
    page.locator("#subscriber-tag-name").press_sequentially("Brand new tag")
    page.locator("#tool-tags .tag-input-new").wait_for()
    assert "will be created" in hint.inner_text()
    screenshot("subscriber-hand-tools")
