"""Reads for the member pages, the timeline and automations: a fixed number of queries each."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import formats
from django.utils.translation import gettext as _

from .models import Certificate, Choice, ChoicePick, Quiz, QuizAttempt


def quiz_retake_refusal(*, quiz: Quiz, count: int, last_at: datetime | None, now: datetime) -> str:
    """Why the member may not take the quiz now ("" when they may)."""
    if quiz.attempts_allowed and count >= quiz.attempts_allowed:
        return _("You have used all %(n)s attempts at this quiz.") % {"n": quiz.attempts_allowed}
    if last_at and quiz.retake_delay_minutes:
        ready = last_at + timedelta(minutes=quiz.retake_delay_minutes)
        if now < ready:
            when = formats.date_format(ready, "DATETIME_FORMAT")
            return _("You can take this quiz again from %(when)s.") % {"when": when}
    return ""


@dataclass
class QuizState:
    quiz: Quiz
    latest: QuizAttempt | None
    count: int
    refusal: str

    @property
    def attempts_left(self) -> int | None:
        if not self.quiz.attempts_allowed:
            return None
        return max(self.quiz.attempts_allowed - self.count, 0)


def quiz_for_lesson(lesson_id: int) -> Quiz | None:
    """The lesson's quiz with its questions and options (shown without the key): two queries."""
    quiz = Quiz.objects.filter(lesson_id=lesson_id).first()
    if quiz is not None:
        quiz.question_list = list(quiz.questions.prefetch_related("options"))
    return quiz


def quiz_state(*, quiz: Quiz, subscriber_id: int | None, now: datetime) -> QuizState:
    """The member's latest attempt and what they may do next: one query."""
    attempts = list(
        QuizAttempt.objects.filter(quiz=quiz, subscriber_id=subscriber_id).order_by("-number")[:1]
    )
    latest = attempts[0] if attempts else None
    count = latest.number if latest else 0
    refusal = quiz_retake_refusal(
        quiz=quiz, count=count, last_at=latest.created_at if latest else None, now=now
    )
    return QuizState(quiz=quiz, latest=latest, count=count, refusal=refusal)


def quiz_latest_scores(*, quiz_id: int, subscriber_ids: list[int]) -> dict[int, float]:
    """Each subscriber's latest score at a quiz (absent: never taken): one query."""
    rows = (
        QuizAttempt.objects.filter(quiz_id=quiz_id, subscriber_id__in=subscriber_ids)
        .order_by("subscriber_id", "-number")
        .values_list("subscriber_id", "score")
    )
    scores: dict[int, float] = {}
    for sid, score in rows:
        scores.setdefault(sid, float(score))
    return scores


def choices_pending(*, offering_id: int, subscriber_id: int) -> Choice | None:
    """The first enrollment choice of the offering the member has not answered: one query."""
    return (
        Choice.objects.filter(offering_id=offering_id, lesson__isnull=True)
        .exclude(picks__subscriber_id=subscriber_id)
        .order_by("pk")
        .first()
    )


def choices_with_picks(*, subscriber_id: int | None, **where) -> list[Choice]:
    """Choices (filtered by ``where``) with their options and the member's pick as
    ``choice.pick`` (None before they chose): three queries."""
    choices = list(Choice.objects.filter(**where).prefetch_related("options").order_by("pk"))
    picks = {
        p.choice_id: p
        for p in ChoicePick.objects.filter(
            choice__in=choices, subscriber_id=subscriber_id
        ).select_related("option")
    }
    for choice in choices:
        choice.pick = picks.get(choice.pk)
    return choices


def certificates_of(subscriber_id: int) -> list[Certificate]:
    return list(
        Certificate.objects.filter(subscriber_id=subscriber_id)
        .only("pk", "code", "offering_name", "level", "issued_at", "subscriber_id")
        .order_by("-issued_at", "-pk")
    )
