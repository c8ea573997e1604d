"""The course player: downloads, navigation, in-order progression, previews, 404s."""

import re

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.members.models import Operation
from apps.members.services import member_login_ensure, operation_run
from apps.offerings.models import Lesson, LessonAttachment, LessonProgress, Progression
from apps.offerings.services import lesson_complete
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = settings.STORAGES | {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "/files-are-served-by-the-app/"},
        }
    }


def _member(email: str, course=None):
    subscriber = SubscriberFactory(email=email)
    member = member_login_ensure(subscriber=subscriber, source="test").member
    if course is not None:
        operation_run(operation=Operation.RELEASE, offering=course, email=email, source="test")
    return member


def _worksheet(lesson: Lesson) -> LessonAttachment:
    attachment = LessonAttachment(lesson=lesson, title="Worksheet")
    attachment.file.save("worksheet.pdf", ContentFile(b"%PDF-1.4 worksheet"), save=True)
    return attachment


def test_an_attachment_downloads_only_for_members_with_access_and_never_from_a_public_path(
    client,
):
    # given
    course = weekly_course()
    lesson = Lesson.objects.get(title="M1 lesson 1")
    attachment = _worksheet(lesson)
    url = reverse("members:attachment", args=[course.slug, lesson.slug, attachment.pk])
    insider, outsider = _member("in@example.com", course), _member("out@example.com")

    # when / then: logged out
    assert client.get(url).status_code == 403
    # a member without access
    client.force_login(outsider.user)
    assert client.get(url).status_code == 403
    # a member with access
    client.force_login(insider.user)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 worksheet"
    assert 'filename="Worksheet.pdf"' in response["Content-Disposition"]
    # the stored name is under no public URL
    client.logout()
    for prefix in ("/media/", "/static/", "/files-are-served-by-the-app/"):
        assert client.get(f"{prefix}{attachment.file.name}").status_code == 404


def test_a_locked_lesson_s_attachment_is_refused_even_to_a_member_of_the_offering(client):
    course = weekly_course()
    locked = Lesson.objects.get(title="M2 lesson 1")
    attachment = _worksheet(locked)
    client.force_login(_member("in@example.com", course).user)

    url = reverse("members:attachment", args=[course.slug, locked.slug, attachment.pk])

    assert client.get(url).status_code == 403


def test_complete_and_continue_goes_to_the_next_lesson_and_continue_follows_progress(client):
    # given
    course = weekly_course()
    member = _member("mia@example.com", course)
    client.force_login(member.user)
    first, second = Lesson.objects.filter(title__in=["M1 lesson 1", "M1 lesson 2"]).order_by("pk")
    continue_link = reverse("members:lesson", args=[course.slug, first.slug])
    assert continue_link in client.get(reverse("members:dashboard")).content.decode()

    # when
    response = client.post(continue_link, {"then": "next"})

    # then
    assert response.url == reverse("members:lesson", args=[course.slug, second.slug])
    dashboard = client.get(reverse("members:dashboard")).content.decode()
    assert reverse("members:lesson", args=[course.slug, second.slug]) in dashboard
    assert ">Continue<" in dashboard
    lesson_page = client.get(response.url).content.decode()
    assert re.search(rf'data-lesson="{first.slug}">.*?Completed', lesson_page, re.S)


def test_locked_lesson_titles_show_with_their_opening_date(client):
    course = weekly_course()
    client.force_login(_member("mia@example.com", course).user)

    page = client.get(reverse("members:offering", args=[course.slug])).content.decode()

    assert "M2 lesson 1" in page and "M3 lesson 2" in page
    assert re.search(r"Opens on \w+ \d+ \w+ \d{4}, \d\d:\d\d \(UTC\)", page)


def test_in_order_progression_opens_a_lesson_once_the_previous_one_is_complete(client):
    # given
    course = weekly_course()
    course.progression = Progression.IN_ORDER
    course.save()
    member = _member("mia@example.com", course)
    client.force_login(member.user)
    first, second = Lesson.objects.filter(title__in=["M1 lesson 1", "M1 lesson 2"]).order_by("pk")
    second_url = reverse("members:lesson", args=[course.slug, second.slug])

    # when / then
    assert "Opens when you complete the previous lesson." in client.get(second_url).content.decode()
    assert client.post(second_url).status_code == 403
    lesson_complete(subscriber=member.subscriber, lesson=first)
    assert client.post(second_url).status_code == 302
    assert LessonProgress.objects.filter(lesson=second).exists()


def test_an_unknown_lesson_is_a_page_titled_not_found(client):
    course = weekly_course()
    client.force_login(_member("mia@example.com", course).user)

    response = client.get(reverse("members:lesson", args=[course.slug, "no-such-lesson"]))

    assert response.status_code == 404
    assert "<title>Page not found · Tessera</title>" in response.content.decode()
    assert "Page not found" in client.get("/no/such/address/").content.decode()


def test_staff_without_a_member_profile_are_told_how_to_preview(admin_client):
    page = admin_client.get(reverse("members:dashboard")).content.decode()

    assert "Preview as a member" in page


def test_staff_preview_with_tags_sees_what_such_a_member_sees_and_writes_nothing(admin_client):
    # given
    course = weekly_course()
    module_two = course.modules.get(position=2)

    # when
    admin_client.post(
        reverse("members:preview_start"),
        {"offering": course.pk, "tags": [course.base_tag_id, module_two.access_tag_id]},
    )
    page = admin_client.get(reverse("members:offering", args=[course.slug])).content.decode()
    lesson = Lesson.objects.get(title="M2 lesson 1")
    post = admin_client.post(reverse("members:lesson", args=[course.slug, lesson.slug]))

    # then
    assert "Preview: what a member with the tags" in page
    opened = re.findall(r'<li class="module( locked)?" data-module="(\d)"', page)
    assert opened == [("", "1"), ("", "2"), (" locked", "3")]
    assert post.status_code == 302 and not LessonProgress.objects.exists()


def test_staff_preview_as_a_subscriber_reads_their_progress_and_changes_nothing(admin_client):
    course = weekly_course()
    member = _member("mia@example.com", course)
    first = Lesson.objects.get(title="M1 lesson 1")
    lesson_complete(subscriber=member.subscriber, lesson=first)

    admin_client.post(
        reverse("members:preview_start"), {"offering": course.pk, "email": "MIA@example.com"}
    )
    page = admin_client.get(reverse("members:dashboard")).content.decode()
    admin_client.post(reverse("members:lesson", args=[course.slug, first.slug]))

    assert "Preview: what mia@example.com sees" in page and "1 of 6 lessons complete" in page
    assert LessonProgress.objects.count() == 1


def _count(client, url) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_lesson_page_with_its_outline_does_not_grow_with_the_course(client):
    small = weekly_course("Small", modules=1)
    big = weekly_course("Big", modules=6)
    member = _member("mia@example.com", small)
    operation_run(
        operation=Operation.RELEASE, offering=big, email=member.subscriber.email, source="t"
    )
    client.force_login(member.user)
    for course in (small, big):
        lesson = Lesson.objects.filter(module__offering=course).first()
        _worksheet(lesson)
    counts = [
        _count(client, reverse("members:lesson", args=[c.slug, c.lessons.first().slug]))
        for c in (small, big)
    ]

    assert counts[0] == counts[1]


def test_a_preview_of_no_offering_or_odd_tags_is_refused_with_a_message(admin_client):
    course = weekly_course()

    for data in ({"offering": "abc"}, {}, {"offering": course.pk, "tags": ["x"]}):
        response = admin_client.post(reverse("members:preview_start"), data, follow=True)
        assert response.status_code == 200
        assert "Choose" in response.content.decode()
    assert "member_preview" not in admin_client.session
