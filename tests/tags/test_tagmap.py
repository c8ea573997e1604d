"""The tag map: what adds each tag, what depends on it, and what looks wrong."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.automations.models import Automation
from apps.crm.models import Broadcast, Form, Hook
from apps.offerings.services import lesson_add, module_add, offering_create
from apps.tags.models import Tag
from apps.tags.services import tag_bulk_add, tag_create, tag_get_or_create
from apps.tags.tagmap import near_duplicates, tag_map_rows, tag_name_group
from tests.automations.helpers import add, build, on_tag, when
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

MAP = reverse("admin:tags_tag_map")
CSV = reverse("admin:tags_tag_map_csv")


def course_complete_setup():
    """The issue's example. "Course Complete" is added by completing a lesson and starts an
    automation. Its misspelled twins must be distinct Tag rows to be warned about: tag names
    are unique by ``name_key`` (case-folded, spaces trimmed and folded), so the issue's literal
    "course complete " is the very same tag (checked below) and cannot exist beside it. The
    twins used are "Course Compelte" (two letters swapped) and "course-complete" (a dash for
    the space, lower case), both of which the uniqueness rule allows."""
    course = offering_create(name="Foundation")
    module = module_add(offering=course, title="Module 1")
    lesson_add(module=module, title="Final lesson", completion_tag="Course Complete")
    build(name="Course wrap-up", triggers=on_tag("Course Complete"), steps=[add("Alumni")])
    tag_create(name="Course Compelte")
    tag_create(name="course-complete")
    return Tag.objects.get(name="Course Complete")


def _row(rows, name):
    return next(row for row in rows if row.tag.name == name)


def test_course_complete_shows_its_lesson_its_automation_and_its_misspelled_twins():
    # given
    tag = course_complete_setup()

    # when
    rows = tag_map_rows()

    # then
    row = _row(rows, "Course Complete")
    assert [u.text for u in row.adds] == ["completion tag of lesson 'Final lesson'"]
    assert [u.text for u in row.needs] == ["entry trigger of 'Course wrap-up'"]
    automation = Automation.objects.get(name="Course wrap-up")
    assert row.needs[0].url == reverse("admin:automations_automation_change", args=[automation.pk])
    assert any("'Course Compelte'" in w for w in row.warnings)
    assert any("'course-complete'" in w for w in row.warnings)
    assert any("'Course Complete'" in w for w in _row(rows, "Course Compelte").warnings)
    # The literal example is not a second tag at all: it folds onto the first.
    assert tag_get_or_create(name="course complete ") == (tag, False)


def test_unused_and_needed_but_never_added_tags_are_warned_about():
    # given: "Lonely" is used by nothing; "VIP" is read by a condition, added by nothing
    tag_create(name="Lonely")
    build(
        name="Upsell",
        triggers=on_tag("Buyer"),
        steps=[when({"has": "VIP"}, yes=[add("Offer")], no=[])],
    )

    # when
    rows = tag_map_rows()

    # then
    assert _row(rows, "Lonely").warnings == ["Nothing adds or uses this tag."]
    assert any("nothing adds it" in w for w in _row(rows, "VIP").warnings)
    assert [u.text for u in _row(rows, "Offer").adds] == ["add tag step in 'Upsell' (add Offer)"]


def test_a_tag_seen_coming_from_the_api_is_not_called_never_added():
    # given: an automation starts on "Buyer", which only the API (a shop) adds
    build(name="Welcome", triggers=on_tag("Buyer"), steps=[add("Welcomed")])
    buyer = Tag.objects.get(name="Buyer")
    people = SubscriberFactory.create_batch(3)
    tag_bulk_add(tag=buyer, subscriber_ids=[p.pk for p in people], source="api")

    # when
    row = _row(tag_map_rows(), "Buyer")

    # then
    assert row.subscribers == 3
    assert row.seen_via == [("the API", 3)]
    assert row.warnings == []


def test_offering_tags_group_on_the_name_prefix_and_say_what_the_offering_does():
    # given
    offering_create(name="Course")

    # when
    rows = tag_map_rows()

    # then
    base = _row(rows, "Course – Base Access")
    assert base.group == "Course"
    assert "access grant of offering 'Course'" in [u.text for u in base.adds]
    assert "access rule (base tag) of offering 'Course'" in [u.text for u in base.needs]
    assert tag_name_group("Member - Gold") == "Member"
    assert tag_name_group("Purchase: Widget") == "Purchase"
    assert tag_name_group("VIP") == "Other"


def test_near_duplicates_ignore_case_spacing_dashes_and_one_typo_but_not_numbers():
    names = {
        1: "Course Complete",
        2: "course-complete",
        3: "Course Complet",
        4: "Course Compelte",
        5: "Module 1 Access",
        6: "Module 2 Access",
        7: "Something else",
    }

    found = near_duplicates(names)

    assert found[1] == {2, 3, 4}
    assert 5 not in found and 6 not in found and 7 not in found


def _grow(count: int) -> None:
    """``count`` tags, each added by a lesson, starting an automation with a condition on it,
    and held by a few subscribers."""
    course = offering_create(name=f"Course {count}")
    module = module_add(offering=course, title="Module 1")
    people = [p.pk for p in SubscriberFactory.create_batch(5)]
    for i in range(count):
        name = f"Lesson {count}.{i} Done"
        lesson_add(module=module, title=f"Lesson {i}", completion_tag=name)
        build(
            name=f"After {count}.{i}",
            triggers=on_tag(name),
            steps=[when({"has": name}, yes=[add(f"Next {count}.{i}")], no=[])],
        )
        tag_bulk_add(tag=Tag.objects.get(name=name), subscriber_ids=people, source="api")


def _count_queries(client, url) -> tuple[int, bytes]:
    client.get(url)  # warm per-process caches (content types, sessions)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content


@pytest.mark.parametrize("url", [MAP, CSV])
def test_the_map_costs_the_same_queries_for_3_tags_as_for_40(admin_client, url):
    _grow(3)
    small, _ = _count_queries(admin_client, url)

    _grow(40)
    large, content = _count_queries(admin_client, url)

    assert Tag.objects.count() > 80
    assert b"Lesson 40.39 Done" in content
    assert large == small
    assert small <= 15


def test_the_map_page_lists_the_lesson_the_automation_and_the_warning(admin_client):
    course_complete_setup()

    page = admin_client.get(MAP).content.decode()

    assert "completion tag of lesson &#x27;Final lesson&#x27;" in page
    assert "entry trigger of &#x27;Course wrap-up&#x27;" in page
    assert "Looks like &#x27;Course Compelte&#x27;" in page
    assert CSV in page
    assert MAP in admin_client.get(reverse("admin:tags_tag_changelist")).content.decode()


def test_the_csv_export_has_one_row_per_tag_with_its_uses(admin_client):
    # given
    course_complete_setup()

    # when
    response = admin_client.get(CSV)

    # then
    assert response["Content-Type"] == "text/csv"
    assert 'filename="tag-map.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sorted(r["tag"] for r in rows) == sorted(Tag.objects.values_list("name", flat=True))
    complete = next(r for r in rows if r["tag"] == "Course Complete")
    assert complete["group"] == "Other"
    assert complete["subscribers"] == "0"
    assert complete["added_by"] == "completion tag of lesson 'Final lesson'"
    assert complete["depended_on_by"] == "entry trigger of 'Course wrap-up'"
    assert "Looks like 'Course Compelte'" in complete["warnings"]
    alumni = next(r for r in rows if r["tag"] == "Alumni")
    assert alumni["added_by"] == "add tag step in 'Course wrap-up' (add Alumni)"


def test_a_tag_named_like_a_formula_is_quoted_in_the_csv(admin_client):
    tag_create(name='=HYPERLINK("http://x")')

    rows = list(csv.reader(io.StringIO(admin_client.get(CSV).content.decode())))

    assert rows[1][1] == '\'=HYPERLINK("http://x")'


def test_the_map_needs_permission_to_view_tags(client):
    staff = User.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get(MAP).status_code == 403
    assert client.get(CSV).status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_tag"))
    assert client.get(MAP).status_code == 200
    client.logout()
    assert client.get(MAP).status_code == 302


def test_forms_add_their_tags_and_scheduled_broadcasts_and_hooks_depend_on_theirs():
    # given
    vip, lead = tag_create(name="VIP"), tag_create(name="Lead")
    Form.objects.create(name="Waitlist", tag_ids=[lead.pk])
    Broadcast.objects.create(subject="VIP news", condition={"has": vip.pk}, status="scheduled")
    Broadcast.objects.create(subject="Everyone", condition={}, status="draft")
    Broadcast.objects.create(subject="Old", condition={"has": lead.pk}, status="completed")
    Hook.objects.create(event_name="tag_add", tag_id=vip.pk, target_url="https://x.io", secret="s")

    # when
    rows = tag_map_rows()

    # then
    assert [u.text for u in _row(rows, "Lead").adds] == ["form 'Waitlist'"]
    assert _row(rows, "Lead").needs == []
    assert [u.text for u in _row(rows, "VIP").needs] == [
        "hook tag_add → https://x.io",
        "audience of broadcast 'VIP news'",
    ]


def test_a_webhook_generator_url_is_never_shown_whole(admin_client):
    """The Release URL is a capability (its path carries the signature): the map names the
    hook's host only, so a clerk who may view tags cannot release a course to anyone."""
    from apps.members.services import endpoint_mint
    from apps.offerings.models import Offering

    course = offering_create(name="Secret Course")
    endpoint = endpoint_mint(
        operation="release",
        offering=Offering.objects.get(pk=course.pk),
        trigger_tag=tag_create(name="Release Secret Course"),
    )

    page = admin_client.get(MAP).content.decode()
    sheet = admin_client.get(CSV).content.decode()

    signature = endpoint.path.rstrip("/").rsplit("/", 1)[-1]
    assert len(signature) > 10
    for text in (page, sheet):
        assert signature not in text
        assert endpoint.public_id not in text
    assert "Release Secret Course" in sheet
