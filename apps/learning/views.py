"""Member pages: submitting a quiz, choosing a track, downloading a certificate; and the public
page that verifies a certificate by its code (name, offering, date; nothing else)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.members.player_views import page_not_found, viewer_required
from apps.offerings.models import Offering

from .models import Certificate, Choice, ChoiceOption, Quiz
from .pdf import PdfUnavailable, pdf_render
from .selectors import choices_with_picks
from .services.choices import choice_pick
from .services.quizzes import quiz_attempt_submit


def _no_access(request, reason: str, offering, status: int = 403):
    return render(
        request, "members/no_access.html", {"offering": offering, "reason": reason}, status=status
    )


def _open_item(request, slug, lesson_slug):
    """The offering and the viewer's outline item of the lesson, or a response saying why not."""
    offering = Offering.objects.filter(slug=slug).first()
    if offering is None:
        return None, None, page_not_found(request, _("There is no such offering."))
    item = request.viewer.outline(offering).find(lesson_slug)
    if item is None:
        return offering, None, page_not_found(request, _("There is no such lesson."))
    if not item.open:
        return offering, None, _no_access(request, _("This lesson is still locked."), offering)
    return offering, item, None


@require_POST
@viewer_required
def quiz_submit_view(request, slug, lesson_slug):
    offering, item, refused = _open_item(request, slug, lesson_slug)
    if refused:
        return refused
    back = reverse("members:lesson", args=[slug, lesson_slug]) + "#quiz"
    quiz = Quiz.objects.filter(lesson_id=item.lesson.pk).first()
    if quiz is None:
        return page_not_found(request, _("This lesson has no quiz."))
    if request.viewer.read_only:
        messages.info(request, _("This is a preview: nothing was saved."))
        return redirect(back)
    answers = {
        question_id: request.POST.getlist(f"q{question_id}")
        for question_id in quiz.questions.values_list("pk", flat=True)
    }
    try:
        attempt = quiz_attempt_submit(
            subscriber=request.viewer.member.subscriber, quiz=quiz, answers=answers
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    if attempt.passed:
        messages.success(request, _("You passed “%(title)s”.") % {"title": quiz.title})
    else:
        messages.warning(request, _("Not passed yet: see your result below."))
    return redirect(back)


@viewer_required
def choice_view(request, slug, choice_id):
    """The enrollment choice's own page (the first visit lands here); a POST records the pick
    and goes on to where the member was going."""
    choice = Choice.objects.filter(pk=choice_id, offering__slug=slug).select_related("offering")
    choice = choice.first()
    if choice is None:
        return page_not_found(request, _("There is no such choice."))
    offering = choice.offering
    if not request.viewer.outline(offering).any_open:
        return _no_access(request, _("You do not have access to this offering."), offering)
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = ""
    target = target or reverse("members:offering", args=[slug])
    if request.method == "POST":
        if request.viewer.read_only:
            messages.info(request, _("This is a preview: nothing was saved."))
            return redirect(target)
        option = ChoiceOption.objects.filter(
            pk=request.POST.get("option") if str(request.POST.get("option")).isdigit() else None,
            choice=choice,
        ).first()
        if option is None:
            messages.error(request, _("Choose one of the options, then press the button."))
            return redirect(f"{request.path}?next={target}")
        try:
            choice_pick(subscriber=request.viewer.member.subscriber, option=option)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(target)
        messages.success(request, _("Your choice: %(label)s.") % {"label": option.label})
        return redirect(target)
    choice = choices_with_picks(subscriber_id=request.viewer.subscriber_id, pk=choice.pk)[0]
    return render(
        request,
        "learning/choose.html",
        {"offering": offering, "choice": choice, "next": target},
    )


@viewer_required(anonymous_status=403)
def certificate_pdf_view(request, code):
    certificate = Certificate.objects.filter(
        code=code, subscriber_id=request.viewer.subscriber_id
    ).first()
    if certificate is None:
        return page_not_found(request, _("You have no certificate with this code."))
    try:
        pdf = pdf_render(certificate.html)
    except PdfUnavailable as exc:
        return render(request, "learning/pdf_unavailable.html", {"reason": str(exc)}, status=503)
    response = HttpResponse(pdf, content_type="application/pdf")
    filename = f"certificate-{certificate.code}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=300"
    return response


def certificate_verify_view(request, code):
    certificate = (
        Certificate.objects.filter(code=code.upper())
        .only("name", "offering_name", "issued_at", "code")
        .first()
    )
    return render(
        request,
        "learning/verify.html",
        {"certificate": certificate, "code": code},
        status=200 if certificate else 404,
    )
