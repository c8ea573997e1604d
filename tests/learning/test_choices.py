"""Choices (tracks): asked on the first visit to an offering, the option's tag added and the
others' removed, changeable only where the creator allows; refusals on save."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.learning.models import ChoiceOption, ChoicePick
from apps.learning.services.choices import choice_create, choice_pick
from apps.offerings.models import Lesson
from tests.automations.helpers import tags_of
from tests.learning.helpers import member, track_choice
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db


def _option(label: str) -> ChoiceOption:
    return ChoiceOption.objects.get(label=label)


def test_the_first_visit_asks_the_track_then_goes_where_the_member_was_going(client):
    # given
    course = weekly_course()
    choice = track_choice(course)
    mia = member("mia@example.com", course)
    client.force_login(mia.user)
    lesson_url = reverse("members:lesson", args=[course.slug, "m1-lesson-1"])

    # when: straight to a lesson
    response = client.get(lesson_url)

    # then: the choice first
    choose_url = reverse("learning:choose", args=[course.slug, choice.pk])
    assert response.status_code == 302 and response.url.startswith(choose_url)
    page = client.get(response.url).content.decode()
    assert "Which track fits you?" in page and "Operations" in page

    # when
    picked = client.post(choose_url, {"option": _option("Sales").pk, "next": lesson_url})

    # then
    assert picked.url == lesson_url
    assert {t for t in tags_of(mia.subscriber) if t.startswith("Track")} == {"Track – Sales"}
    assert client.get(lesson_url).status_code == 200
    offering_page = client.get(reverse("members:offering", args=[course.slug])).content.decode()
    assert "Your choice: <strong>Sales</strong>" in offering_page
    assert "Change my choice" in offering_page


def test_switching_tracks_swaps_the_tags_and_a_fixed_choice_cannot_change():
    # given
    course = weekly_course()
    track_choice(course)
    fixed = choice_create(
        offering=course,
        lesson=Lesson.objects.get(title="M1 lesson 2"),
        question="Your level?",
        options=[("Beginner", "Level – Beginner"), ("Advanced", "Level – Advanced")],
        changeable=False,
    )
    subscriber = member("mia@example.com", course).subscriber
    choice_pick(subscriber=subscriber, option=_option("Sales"))

    # when
    choice_pick(subscriber=subscriber, option=_option("Marketing"))

    # then
    tracks = {t for t in tags_of(subscriber) if t.startswith("Track")}
    assert tracks == {"Track – Marketing"}
    assert (
        ChoicePick.objects.get(choice__question="Which track fits you?").option.label == "Marketing"
    )

    # and a choice the creator fixed stays as first made
    choice_pick(subscriber=subscriber, option=_option("Beginner"))
    with pytest.raises(ValidationError, match="You already chose “Beginner”"):
        choice_pick(subscriber=subscriber, option=_option("Advanced"))
    assert fixed.picks.get().option.label == "Beginner"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([("Sales", "Track – Sales")], "A choice needs at least two options."),
        ([("Sales", "Track – Sales"), ("Ops", "")], "Option 2: give it a label and the tag"),
        (
            [("Sales", "Track – Sales"), ("Selling", "track – sales")],
            "Options “Sales” and “Selling” add the same tag",
        ),
    ],
)
def test_a_choice_is_refused_with_the_place_named(options, message):
    course = weekly_course()
    with pytest.raises(ValidationError) as refused:
        choice_create(offering=course, question="Track?", options=options)
    assert message in refused.value.messages[0]


def test_the_choice_page_runs_a_fixed_number_of_queries(client):
    # given
    course = weekly_course()
    choice = track_choice(course)
    client.force_login(member("mia@example.com", course).user)
    url = reverse("learning:choose", args=[course.slug, choice.pk])
    client.get(url)

    # when
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200

    # then
    assert len(queries) <= 14


def test_a_choice_on_a_lesson_is_asked_there_and_not_before_the_offering(client):
    # given
    course = weekly_course()
    lesson = Lesson.objects.get(title="M1 lesson 2")
    choice = choice_create(
        offering=course,
        lesson=lesson,
        question="Your level?",
        options=[("Beginner", "Level – Beginner"), ("Advanced", "Level – Advanced")],
    )
    mia = member("mia@example.com", course)
    client.force_login(mia.user)
    lesson_url = reverse("members:lesson", args=[course.slug, lesson.slug])

    # when / then: the offering opens at once; the lesson asks
    assert client.get(reverse("members:offering", args=[course.slug])).status_code == 200
    page = client.get(lesson_url).content.decode()
    assert f'id="choice-{choice.pk}"' in page and "Your level?" in page

    # when
    client.post(
        reverse("learning:choose", args=[course.slug, choice.pk]),
        {"option": _option("Advanced").pk, "next": lesson_url},
    )

    # then
    assert "Level – Advanced" in tags_of(mia.subscriber)
    assert "Your choice: <strong>Advanced</strong>" in client.get(lesson_url).content.decode()


def test_the_tag_map_says_what_learning_adds_and_needs():
    # given
    from apps.learning.services.certificates import certificate_template_create
    from apps.tags.dependents import tag_uses_all
    from tests.learning.helpers import module_one_check

    course = weekly_course()
    module_one_check()
    track_choice(course)
    certificate_template_create(
        offering=course, name="Completion", variants=[("VIP", "VIP Member"), ("Standard", None)]
    )

    # when
    texts = {use.text for use in tag_uses_all()}

    # then
    assert "added by quiz 'Module 1 check' (score 80–100 %)" in texts
    assert "added by quiz 'Module 1 check' (pass)" in texts
    assert "added by choice 'Which track fits you?' (Sales)" in texts
    assert "chooses the 'VIP' variant of certificate 'Completion'" in texts
