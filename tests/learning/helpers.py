"""A course with the guide's quiz (Module 1 check), track choice and certificates."""

from apps.learning.checks import BandSpec, QuestionSpec
from apps.learning.services.choices import choice_create
from apps.learning.services.quizzes import quiz_create
from apps.members.models import Operation
from apps.members.services import member_login_ensure, operation_run
from apps.offerings.models import Lesson
from tests.factories import SubscriberFactory

HIGH, LOW = "Quiz – High Score", "Quiz – Low Score"
TRACKS = [
    ("Marketing", "Track – Marketing"),
    ("Sales", "Track – Sales"),
    ("Operations", "Track – Operations"),
]


def module_one_check(lesson: Lesson | None = None, **options):
    """Five questions: single, multiple and short answer; 80 % and up is a high score."""
    lesson = lesson or Lesson.objects.get(title="M1 lesson 2")
    return quiz_create(
        lesson=lesson,
        title="Module 1 check",
        questions=[
            QuestionSpec(
                "Which tag grants access?",
                "single",
                [("Base Access", True), ("Revoke", False), ("Purchase", False)],
            ),
            QuestionSpec(
                "Which wins?", "single", [("Base access", False), ("Revoke access", True)]
            ),
            QuestionSpec(
                "Which are module release rules?",
                "multiple",
                [("Immediately", True), ("On a date", True), ("When it rains", False)],
            ),
            QuestionSpec(
                "What does Kit call a visual flow?",
                "short",
                [("Automation", True), ("Visual automation", True)],
            ),
            QuestionSpec(
                "Drip means?", "single", [("Release over time", True), ("All at once", False)]
            ),
        ],
        bands=[BandSpec(0, 80, LOW), BandSpec(80, 100, HIGH)],
        pass_percent=60,
        pass_tag="Module 1 check – Passed",
        fail_tag="Module 1 check – Failed",
        **options,
    )


def answers_for(quiz, right: int) -> dict[int, list[str]]:
    """Answers to ``quiz`` with the first ``right`` questions right and the rest wrong."""
    answers = {}
    for index, question in enumerate(quiz.questions.prefetch_related("options")):
        options = list(question.options.all())
        good = index < right
        if question.kind == "short":
            answers[question.pk] = [options[0].text.upper() if good else "newsletter"]
        else:
            chosen = [o for o in options if o.correct == good]
            answers[question.pk] = [
                str(o.pk) for o in (chosen if question.kind == "multiple" else chosen[:1])
            ]
    return answers


def track_choice(course, **options):
    return choice_create(
        offering=course, question="Which track fits you?", options=TRACKS, **options
    )


def member(email: str, course=None, *, first_name: str = "Mia"):
    subscriber = SubscriberFactory(email=email, first_name=first_name)
    login = member_login_ensure(subscriber=subscriber, source="test").member
    if course is not None:
        operation_run(operation=Operation.RELEASE, offering=course, email=email, source="test")
    return login
