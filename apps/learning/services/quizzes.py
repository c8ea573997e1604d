"""Quizzes: defining one, and a member's attempt, scored here on the server (the page never
holds the key). The attempt's outcome tags go through the tag services, so automations, hooks
and the tag map see them in the same transaction."""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.crm.events import event_record
from apps.crm.models import Subscriber
from apps.offerings.models import Lesson
from apps.offerings.services import lesson_complete
from apps.tags.services import tag_get_or_create, taggings_add, taggings_remove

from ..checks import BandSpec, QuestionSpec, bands_check, questions_check
from ..event_types import QUIZ_COMPLETED
from ..lock_objects import subscribers_for_update
from ..models import Option, Question, Quiz, QuizAttempt, ScoreBand
from ..selectors import quiz_retake_refusal

ANSWER_TEXT_MAX = 300


def _tag(name: str | None):
    return tag_get_or_create(name=name)[0] if name else None


@transaction.atomic
def quiz_create(
    *,
    lesson: Lesson,
    title: str,
    questions: list[QuestionSpec],
    bands: list[BandSpec] | None = None,
    pass_percent: int = 70,
    attempts_allowed: int = 0,
    retake_delay_minutes: int = 0,
    show_wrong_answers: bool = True,
    completes_lesson: bool = True,
    pass_tag: str | None = None,
    fail_tag: str | None = None,
) -> Quiz:
    """A quiz under ``lesson``; refused (ValidationError naming the place) without a correct
    answer to every question, or with score bands that overlap or leave a gap."""
    bands = bands or []
    questions_check(list(questions))
    bands_check(bands)
    if hasattr(lesson, "quiz"):
        raise ValidationError(f"The lesson “{lesson.title}” already has a quiz; edit that one.")
    quiz = Quiz.objects.create(
        lesson=lesson,
        title=title,
        pass_percent=pass_percent,
        attempts_allowed=attempts_allowed,
        retake_delay_minutes=retake_delay_minutes,
        show_wrong_answers=show_wrong_answers,
        completes_lesson=completes_lesson,
        pass_tag=_tag(pass_tag),
        fail_tag=_tag(fail_tag),
    )
    for position, spec in enumerate(questions):
        question = Question.objects.create(
            quiz=quiz, position=position, text=spec.text, kind=spec.kind
        )
        question_options_set(question=question, options=spec.options)
    quiz_bands_set(quiz=quiz, bands=bands)
    return quiz


@transaction.atomic
def question_options_set(*, question: Question, options: list[tuple[str, bool]]) -> None:
    """Replace a question's options (attempts keep their own copy of what was asked)."""
    question.options.all().delete()
    Option.objects.bulk_create(
        Option(question=question, position=position, text=text, correct=correct)
        for position, (text, correct) in enumerate(options)
    )


@transaction.atomic
def quiz_bands_set(*, quiz: Quiz, bands: list[BandSpec]) -> None:
    bands_check(bands)
    quiz.bands.all().delete()
    ScoreBand.objects.bulk_create(
        ScoreBand(quiz=quiz, from_percent=b.from_percent, to_percent=b.to_percent, tag=_tag(b.tag))
        for b in bands
    )


def _normalized(text: str) -> str:
    return " ".join(str(text).casefold().split())


def _score(questions: list[Question], given: dict[int, list[str]]) -> list[dict]:
    """Each question's record: text, what was given (as text) and whether it was right."""
    results = []
    for question in questions:
        values = [str(v) for v in given.get(question.pk, []) if str(v).strip()]
        options = list(question.options.all())
        if question.traits.typed:
            answer = values[0][:ANSWER_TEXT_MAX] if values else ""
            accepted = {_normalized(o.text) for o in options}
            results.append(
                {
                    "question": question.text,
                    "given": answer,
                    "correct": bool(answer) and _normalized(answer) in accepted,
                }
            )
            continue
        by_id = {str(o.pk): o for o in options}
        chosen = [by_id[v] for v in values if v in by_id]
        if question.traits.one:
            chosen = chosen[:1]
        right = {o.pk for o in options if o.correct}
        results.append(
            {
                "question": question.text,
                "given": [o.text for o in chosen],
                "correct": bool(chosen) and {o.pk for o in chosen} == right,
            }
        )
    return results


@transaction.atomic
def quiz_attempt_submit(
    *,
    subscriber: Subscriber,
    quiz: Quiz,
    answers: dict[int, list[str]],
    now: datetime | None = None,
) -> QuizAttempt:
    """Score one attempt (``answers``: question id -> the option ids chosen, or the typed
    answer), store it, and act on it: the score band's tag added and the other bands' removed,
    the pass or fail tag likewise, a ``quiz_completed`` event with the score, and on a pass the
    lesson completed. Refused (ValidationError) past the attempts allowed or before the retake
    delay has passed."""
    now = now or timezone.now()
    list(subscribers_for_update([subscriber.pk]))
    previous = list(
        QuizAttempt.objects.filter(quiz=quiz, subscriber=subscriber)
        .order_by("-number")
        .values_list("number", "created_at")[:1]
    )
    count = previous[0][0] if previous else 0
    refusal = quiz_retake_refusal(
        quiz=quiz, count=count, last_at=previous[0][1] if previous else None, now=now
    )
    if refusal:
        raise ValidationError(refusal)
    questions = list(quiz.questions.prefetch_related("options"))
    results = _score(questions, answers)
    right = sum(1 for r in results if r["correct"])
    score = (Decimal(100 * right) / Decimal(len(results) or 1)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    passed = score >= quiz.pass_percent
    attempt = QuizAttempt.objects.create(
        quiz=quiz,
        subscriber=subscriber,
        number=count + 1,
        answers=results,
        score=score,
        passed=passed,
        created_at=now,
    )
    _outcome_tags(quiz=quiz, subscriber=subscriber, score=float(score), passed=passed)
    lesson = Lesson.objects.select_related("module").get(pk=quiz.lesson_id)
    event_record(
        subscriber_id=subscriber.pk,
        type=QUIZ_COMPLETED,
        payload={
            "quiz_id": quiz.pk,
            "quiz_title": quiz.title,
            "lesson_id": lesson.pk,
            "module_id": lesson.module_id,
            "offering_id": lesson.offering_id,
            "attempt": attempt.number,
            "score": float(score),
            "passed": passed,
        },
    )
    if passed and quiz.completes_lesson:
        lesson_complete(subscriber=subscriber, lesson=lesson)
    return attempt


def _outcome_tags(*, quiz: Quiz, subscriber: Subscriber, score: float, passed: bool) -> None:
    """The latest attempt decides: its band's tag and the pass or fail tag are added, the
    other bands' tags and the opposite outcome's tag removed (a real change only, as in Kit)."""
    add: set[int] = set()
    remove: set[int] = set()
    for band in quiz.bands.all():
        (add if band.holds(score) else remove).add(band.tag_id)
    win, lose = (
        (quiz.pass_tag_id, quiz.fail_tag_id) if passed else (quiz.fail_tag_id, quiz.pass_tag_id)
    )
    if win:
        add.add(win)
    if lose:
        remove.add(lose)
    source = f"quiz:{quiz.pk}"
    taggings_remove(pairs=[(subscriber.pk, t) for t in remove - add], source=source)
    taggings_add(pairs=[(subscriber.pk, t) for t in add], source=source)
