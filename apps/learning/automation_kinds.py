"""Learning's step kinds for automations, one unit each (apps/automations/kinds/base.py says
what a kind owns): **Quiz score**, a condition on the latest score of a quiz ("score of
'Module 1 check' ≥ 80 %": Yes / No), and **Issue certificate**. Registered from learning's
``ready()``: automations sits below learning and never imports it. The entry event
``quiz_completed`` needs no unit: it is an event type (event_types.py) with its filters."""

from apps.automations.kinds import (
    DryOutcome,
    Field,
    NodeKind,
    Outcome,
    SettingsError,
    StepError,
    kind_register,
)
from apps.automations.kinds.settings import int_setting, unknown_check
from apps.automations.lint import LintMessage

from .models import CertificateTemplate, Quiz
from .selectors import quiz_latest_scores
from .services.certificates import certificate_issue

SCORE_KEYS = {"quiz_id", "at_least"}


def _titled(model, pk) -> str:
    row = (
        model.objects.filter(pk=pk)
        .values_list("title" if model is Quiz else "name", flat=True)
        .first()
    )
    return row or f"#{pk}"


def _choices(model, ctx) -> list[tuple[int, str]]:
    """The quizzes or certificate templates, by name: one read per builder page (kept in its
    context), not one query per card or form."""
    name = "title" if model is Quiz else "name"
    key = f"learning_{model._meta.model_name}_choices"
    if not isinstance(ctx, dict):
        return list(model.objects.order_by(name).values_list("pk", name))
    if key not in ctx:
        ctx[key] = list(model.objects.order_by(name).values_list("pk", name))
    return ctx[key]


def _card_title(model, pk, ctx) -> str:
    try:
        return dict(_choices(model, ctx)).get(int(pk), f"#{pk}")
    except (TypeError, ValueError):
        return f"#{pk}"


class QuizScoreKind(NodeKind):
    def clean(self, settings):
        unknown_check(settings, SCORE_KEYS)
        quiz_id = int_setting(settings, "quiz_id")
        if not Quiz.objects.filter(pk=quiz_id).exists():
            raise SettingsError("quiz_id", f"no quiz has id {quiz_id}")
        at_least = int_setting(settings, "at_least", minimum=0, maximum=100)
        return {"quiz_id": quiz_id, "at_least": at_least}

    def arrive(self, ctx):
        settings = ctx.node.settings
        scores = quiz_latest_scores(
            quiz_id=settings["quiz_id"], subscriber_ids=[ctx.run.subscriber_id]
        )
        score = scores.get(ctx.run.subscriber_id)
        if score is None:
            return Outcome(branch="no", detail="quiz not taken yet: No")
        passed = score >= settings["at_least"]
        return Outcome(
            branch="yes" if passed else "no",
            detail=f"latest score {score:g} % {'≥' if passed else '<'} {settings['at_least']} %",
        )

    def form_fields(self, settings, ctx):
        quizzes = _choices(Quiz, ctx)
        return [
            Field("quiz_id", "Quiz", "select", settings.get("quiz_id", ""), quizzes),
            Field("at_least", "Latest score at least (%)", "number", settings.get("at_least", 80)),
        ]

    def settings_from_form(self, data):
        return {"quiz_id": data.get("quiz_id", ""), "at_least": data.get("at_least", "")}

    def summary(self, settings, ctx):
        title = _card_title(Quiz, settings["quiz_id"], ctx)
        return f"If the latest score of quiz {title!r} ≥ {settings['at_least']} %"

    def dry_run(self, settings, state):
        return DryOutcome("quiz score: a dry run has no attempt to read, so No", branch="no")

    def settings_export(self, settings, names):
        return {
            "quiz": _titled(Quiz, settings.get("quiz_id")),
            "at_least": settings.get("at_least"),
        }

    def settings_import(self, settings, where, names):
        settings = dict(settings)
        if "quiz" in settings:
            title = settings.pop("quiz")
            found = list(Quiz.objects.filter(title=title).values_list("pk", flat=True)[:2])
            if len(found) != 1:
                names.fail(
                    f"{where}.quiz",
                    f"no quiz is titled {title!r}"
                    if not found
                    else f"two quizzes are titled {title!r}",
                )
            settings["quiz_id"] = found[0]
        return settings


class IssueCertificateKind(NodeKind):
    def clean(self, settings):
        unknown_check(settings, {"template_id"})
        template_id = int_setting(settings, "template_id")
        if not CertificateTemplate.objects.filter(pk=template_id).exists():
            raise SettingsError("template_id", f"no certificate template has id {template_id}")
        return {"template_id": template_id}

    def arrive(self, ctx):
        template = CertificateTemplate.objects.filter(pk=ctx.node.settings["template_id"]).first()
        if template is None:
            raise StepError("the certificate template was deleted")
        certificate = certificate_issue(subscriber_id=ctx.run.subscriber_id, template=template)
        if certificate is None:
            raise StepError(f"no variant of {template.name!r} fits this subscriber's tags")
        return Outcome(detail=f"certificate {certificate.level} ({certificate.code})")

    def form_fields(self, settings, ctx):
        templates = _choices(CertificateTemplate, ctx)
        return [
            Field(
                "template_id", "Certificate", "select", settings.get("template_id", ""), templates
            )
        ]

    def settings_from_form(self, data):
        return {"template_id": data.get("template_id", "")}

    def summary(self, settings, ctx):
        title = _card_title(CertificateTemplate, settings["template_id"], ctx)
        return f"Issue certificate {title!r}"

    def dry_run(self, settings, state):
        return DryOutcome("would issue the certificate (once per member)")

    def settings_export(self, settings, names):
        return {"certificate": _titled(CertificateTemplate, settings.get("template_id"))}

    def settings_import(self, settings, where, names):
        settings = dict(settings)
        if "certificate" in settings:
            name = settings.pop("certificate")
            found = list(
                CertificateTemplate.objects.filter(name=name).values_list("pk", flat=True)[:2]
            )
            if len(found) != 1:
                names.fail(
                    f"{where}.certificate", f"no single certificate template is named {name!r}"
                )
            settings["template_id"] = found[0]
        return settings


def lint_quiz_gone(node, ctx):
    # The quiz ids are read once per lint (kept on its context), not once per step.
    if not hasattr(ctx, "learning_quiz_ids"):
        ctx.learning_quiz_ids = set(Quiz.objects.values_list("pk", flat=True))
    try:
        gone = int(node.settings.get("quiz_id")) not in ctx.learning_quiz_ids
    except (TypeError, ValueError):
        gone = True
    if gone:
        yield LintMessage(
            "The quiz this step reads was deleted: every run will take No. Choose a quiz.",
            node_id=node.pk,
        )


QUIZ_SCORE = QuizScoreKind(
    "quiz_score", "Quiz score", has_branches=True, lint_rules=(lint_quiz_gone,)
)
ISSUE_CERTIFICATE = IssueCertificateKind("issue_certificate", "Issue certificate")


def learning_kinds_register() -> None:
    kind_register(QUIZ_SCORE)
    kind_register(ISSUE_CERTIFICATE)
