"""The demo's quiz, track choice and certificates on the guide's Foundation Course: the
Module 1 check (Low / High score bands), the Marketing / Sales / Operations track asked on the
first visit, and a VIP / Standard completion certificate."""

from apps.offerings.models import Lesson, Offering

from .checks import BandSpec, QuestionSpec
from .models import CertificateTemplate, Choice, Quiz
from .services.certificates import certificate_template_create
from .services.choices import choice_create
from .services.quizzes import quiz_create

FOUNDATION = "Foundation Course"
QUESTIONS = [
    QuestionSpec(
        "Which tag gives a member the course?",
        "single",
        [("Base Access", True), ("Revoke Access", False), ("Purchase Success", False)],
    ),
    QuestionSpec(
        "Which tag always wins?", "single", [("Base Access", False), ("Revoke Access", True)]
    ),
    QuestionSpec(
        "When can a module open?",
        "multiple",
        [("Immediately", True), ("N days after access", True), ("When it rains", False)],
    ),
    QuestionSpec("What does Kit call a visual flow?", "short", [("Automation", True)]),
]
TRACKS = [
    ("Marketing", "Track – Marketing"),
    ("Sales", "Track – Sales"),
    ("Operations", "Track – Operations"),
]


def seed_learning_demo() -> list[str]:
    offering = Offering.objects.filter(name=FOUNDATION).first()
    if offering is None:
        return ["Learning: skipped (no Foundation Course)"]
    lines = []
    lesson = (
        Lesson.objects.filter(offering=offering, title__endswith="Part 2")
        .order_by("module__position")
        .first()
    )
    if lesson is not None and not Quiz.objects.filter(lesson=lesson).exists():
        quiz_create(
            lesson=lesson,
            title="Module 1 check",
            questions=QUESTIONS,
            bands=[BandSpec(0, 80, "Quiz – Low Score"), BandSpec(80, 100, "Quiz – High Score")],
            pass_percent=75,
        )
        lines.append("Quiz: Module 1 check (Low / High score tags)")
    if not Choice.objects.filter(offering=offering).exists():
        choice_create(offering=offering, question="Which track fits you best?", options=TRACKS)
        lines.append("Choice: the track, asked on the first visit")
    if not CertificateTemplate.objects.filter(offering=offering).exists():
        certificate_template_create(
            offering=offering,
            name="Foundation Course completion",
            variants=[("VIP", "VIP Member"), ("Standard", None)],
        )
        lines.append("Certificate: VIP / Standard, on completing every lesson")
    return lines or ["Learning: quiz, track and certificate (already there)"]
