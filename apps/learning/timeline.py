"""Learning beside the subscriber's timeline (their quiz scores, tracks and certificates; the
events themselves are in the timeline already), and ``{{ certificate_url }}`` for emails."""

from django.urls import reverse
from django.utils import formats

from apps.crm.models import Subscriber
from apps.crm.timeline import PanelRow, SubscriberPanel

from .models import Certificate, ChoicePick, QuizAttempt
from .services.certificates import certificate_download_url, certificate_verify_url


def learning_panel(subscriber: Subscriber) -> SubscriberPanel:
    """Latest attempt per quiz, current picks, certificates: three queries."""
    rows = []
    seen = set()
    for attempt in (
        QuizAttempt.objects.filter(subscriber=subscriber)
        .select_related("quiz")
        .order_by("quiz_id", "-number")
    ):
        if attempt.quiz_id in seen:
            continue
        seen.add(attempt.quiz_id)
        verdict = "passed" if attempt.passed else "not passed"
        rows.append(
            PanelRow(
                label=f"Quiz {attempt.quiz.title!r}",
                value=f"{attempt.score} % ({verdict}), attempt {attempt.number}",
                url=reverse("admin:learning_quiz_change", args=[attempt.quiz_id]),
            )
        )
    for pick in ChoicePick.objects.filter(subscriber=subscriber).select_related("choice", "option"):
        rows.append(PanelRow(label=pick.choice.question, value=pick.option.label))
    for certificate in Certificate.objects.filter(subscriber=subscriber).order_by("-issued_at"):
        when = formats.date_format(certificate.issued_at, "SHORT_DATE_FORMAT")
        rows.append(
            PanelRow(
                label=f"Certificate {certificate.offering_name} – {certificate.level}",
                value=f"issued {when}, code {certificate.code}",
                url=certificate_verify_url(certificate.code),
            )
        )
    return SubscriberPanel(
        title="Quizzes, tracks and certificates", rows=rows, empty="No quiz, track or certificate."
    )


def certificate_liquid_variables(subscribers) -> dict[int, dict]:
    """``certificate_url`` (the member's newest certificate, as a PDF download once logged in)
    and ``certificate_verification_url``: one query for a batch. A member without one has
    neither, so an email that needs it is held until it is issued."""
    result: dict[int, dict] = {}
    for sid, code in (
        Certificate.objects.filter(subscriber__in=list(subscribers))
        .order_by("subscriber_id", "-issued_at", "-pk")
        .values_list("subscriber_id", "code")
    ):
        result.setdefault(
            sid,
            {
                "certificate_url": certificate_download_url(code),
                "certificate_verification_url": certificate_verify_url(code),
            },
        )
    return result
