"""What learning adds to the course player (apps/members/player_hooks.py): the quiz and
lesson choices under a lesson, the enrollment choice before an offering's first page, the
member's tracks on the offering page, certificates on the dashboard."""

from urllib.parse import urlencode

from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Quiz
from .selectors import (
    certificates_of,
    choices_pending,
    choices_with_picks,
    quiz_for_lesson,
    quiz_state,
)


def _lesson_quiz(request, lesson_id: int) -> Quiz | None:
    """The lesson's quiz, read once per request (the blocker and the panel both ask)."""
    cache = request.__dict__.setdefault("_learning_quiz", {})
    if lesson_id not in cache:
        cache[lesson_id] = quiz_for_lesson(lesson_id)
    return cache[lesson_id]


def choice_gate(request, viewer, offering):
    """Before anything else in the offering: its enrollment choice, once."""
    pending = choices_pending(offering_id=offering.pk, subscriber_id=viewer.subscriber_id)
    if pending is None:
        return None
    url = reverse("learning:choose", args=[offering.slug, pending.pk])
    return redirect(f"{url}?{urlencode({'next': request.get_full_path()})}")


def quiz_blocker(request, lesson_id: int) -> str:
    quiz = _lesson_quiz(request, lesson_id)
    if quiz is not None and quiz.completes_lesson:
        return _("Pass the quiz to complete this lesson.")
    return ""


def lesson_panel(request, context: dict) -> str:
    lesson = context["lesson"]
    viewer = request.viewer
    quiz = _lesson_quiz(request, lesson.pk)
    state = (
        quiz_state(quiz=quiz, subscriber_id=viewer.subscriber_id, now=timezone.now())
        if quiz
        else None
    )
    choices = choices_with_picks(subscriber_id=viewer.subscriber_id, lesson_id=lesson.pk)
    if quiz is None and not choices:
        return ""
    return render_to_string(
        "learning/_lesson_panel.html",
        {
            "quiz": quiz,
            "state": state,
            "choices": choices,
            "offering": context["offering"],
            "lesson": lesson,
            "here": request.get_full_path(),
        },
        request=request,
    )


def offering_panel(request, context: dict) -> str:
    offering = context["offering"]
    choices = choices_with_picks(
        subscriber_id=request.viewer.subscriber_id, offering=offering, lesson__isnull=True
    )
    if not choices:
        return ""
    return render_to_string(
        "learning/_offering_choices.html",
        {"choices": choices, "offering": offering, "here": request.get_full_path()},
        request=request,
    )


def dashboard_panel(request, context: dict) -> str:
    if request.viewer.subscriber_id is None:
        return ""
    certificates = certificates_of(request.viewer.subscriber_id)
    if not certificates:
        return ""
    return render_to_string(
        "learning/_certificates.html", {"certificates": certificates}, request=request
    )
