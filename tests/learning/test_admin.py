"""Building quizzes, choices and certificates in the admin without JSON; every refusal is shown
on the page with its place, and nothing is saved."""

import pytest
from django.urls import reverse

from apps.learning.models import CertificateTemplate, Choice, Option, Quiz
from apps.offerings.models import Lesson
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db


def _inline(prefix: str, rows: list[dict], initial: int = 0) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data |= {f"{prefix}-{i}-{key}": value for key, value in row.items()}
    return data


def _quiz_post(questions: list[dict], bands: list[dict]) -> dict:
    lesson = Lesson.objects.get(title="M1 lesson 2")
    return {
        "lesson": lesson.pk,
        "title": "Module 1 check",
        "pass_percent": "60",
        "attempts_allowed": "0",
        "retake_delay_minutes": "0",
        "show_wrong_answers": "on",
        "completes_lesson": "on",
        "pass_tag_name": "Module 1 check – Passed",
        "fail_tag_name": "",
        **_inline("questions", questions),
        **_inline("bands", bands),
    }


GOOD = {"position": "0", "text": "Which wins?", "kind": "single", "options_text": "Base\n* Revoke"}
BANDS = [
    {"from_percent": "0", "to_percent": "80", "tag_name": "Quiz – Low Score"},
    {"from_percent": "80", "to_percent": "100", "tag_name": "Quiz – High Score"},
]


def test_a_quiz_is_built_with_options_one_a_line_and_tags_by_name(admin_client):
    weekly_course()
    page = admin_client.get(reverse("admin:learning_quiz_add"))
    assert page.status_code == 200

    response = admin_client.post(reverse("admin:learning_quiz_add"), _quiz_post([GOOD], BANDS))

    assert response.status_code == 302, response.content.decode()[:3000]
    quiz = Quiz.objects.get()
    assert [(o.text, o.correct) for o in Option.objects.order_by("position")] == [
        ("Base", False),
        ("Revoke", True),
    ]
    assert [b.tag.name for b in quiz.bands.all()] == ["Quiz – Low Score", "Quiz – High Score"]
    assert quiz.pass_tag.name == "Module 1 check – Passed"
    # the saved quiz shows its options the same way
    edit = admin_client.get(reverse("admin:learning_quiz_change", args=[quiz.pk])).content.decode()
    assert "* Revoke" in edit


@pytest.mark.parametrize(
    ("questions", "bands", "message"),
    [
        (
            [GOOD, {**GOOD, "position": "1", "text": "Pick one", "options_text": "A\nB"}],
            BANDS,
            "Question 2 (“Pick one”) has no correct answer",
        ),
        ([], BANDS, "A quiz needs at least one question"),
        (
            [GOOD],
            [BANDS[0], {**BANDS[1], "from_percent": "85"}],
            "leave a gap from 80 to 85 %",
        ),
        (
            [GOOD],
            [BANDS[0], {**BANDS[1], "from_percent": "70"}],
            "overlap from 70 to 80 %",
        ),
    ],
)
def test_a_quiz_is_refused_on_the_admin_page_with_its_place(
    admin_client, questions, bands, message
):
    weekly_course()

    response = admin_client.post(reverse("admin:learning_quiz_add"), _quiz_post(questions, bands))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Quiz.objects.exists()


def test_a_choice_with_the_same_tag_twice_is_refused(admin_client):
    course = weekly_course()
    data = {
        "offering": course.pk,
        "lesson": "",
        "question": "Which track?",
        "changeable": "on",
        **_inline(
            "options",
            [
                {"position": "0", "label": "Sales", "tag_name": "Track – Sales"},
                {"position": "1", "label": "Selling", "tag_name": "Track - Sales"},
            ],
        ),
    }

    response = admin_client.post(reverse("admin:learning_choice_add"), data)

    assert response.status_code == 200
    assert "Options “Sales” and “Selling” add the same tag" in response.content.decode()
    assert not Choice.objects.exists()


def test_a_certificate_with_a_liquid_error_is_refused_with_the_variant_and_line(admin_client):
    course = weekly_course()
    data = {
        "offering": course.pk,
        "name": "Completion",
        "rule": "all_lessons",
        "rule_tag_name": "",
        "rule_quiz": "",
        **_inline(
            "variants",
            [
                {
                    "position": "0",
                    "level": "VIP",
                    "tag_name": "VIP Member",
                    "html": "<h1>{{ name }}</h1>\n<p>{% if level %}{{ level }}</p>",
                    "css": "",
                }
            ],
        ),
    }

    response = admin_client.post(reverse("admin:learning_certificatetemplate_add"), data)

    assert response.status_code == 200
    assert "Variant “VIP” HTML, line 2" in response.content.decode()
    assert not CertificateTemplate.objects.exists()
