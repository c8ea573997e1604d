"""What quizzes, choices and certificates add or need (for tags.dependents and the tag map):
"added by quiz 'Module 1 check'". Four queries whatever the number of rows."""

from collections.abc import Collection

from django.db.models import Q
from django.urls import reverse

from apps.tags.dependents import Role, TagUse

from .models import CertificateTemplate, CertificateVariant, ChoiceOption, Quiz, ScoreBand


def learning_uses_of_tag(tag_ids: Collection[int] | None) -> list[TagUse]:
    quizzes = Quiz.objects.filter(Q(pass_tag__isnull=False) | Q(fail_tag__isnull=False))
    bands = ScoreBand.objects.select_related("quiz")
    options = ChoiceOption.objects.select_related("choice")
    templates = CertificateTemplate.objects.filter(rule_tag__isnull=False)
    variants = CertificateVariant.objects.filter(tag__isnull=False).select_related("template")
    if tag_ids is not None:
        quizzes = quizzes.filter(Q(pass_tag_id__in=tag_ids) | Q(fail_tag_id__in=tag_ids))
        bands = bands.filter(tag_id__in=tag_ids)
        options = options.filter(tag_id__in=tag_ids)
        templates = templates.filter(rule_tag_id__in=tag_ids)
        variants = variants.filter(tag_id__in=tag_ids)
    uses = []
    for quiz in quizzes:
        url = reverse("admin:learning_quiz_change", args=[quiz.pk])
        if quiz.pass_tag_id:
            uses.append(
                TagUse(quiz.pass_tag_id, Role.ADDS, f"added by quiz {quiz.title!r} (pass)", url)
            )
        if quiz.fail_tag_id:
            uses.append(
                TagUse(quiz.fail_tag_id, Role.ADDS, f"added by quiz {quiz.title!r} (fail)", url)
            )
    for band in bands:
        uses.append(
            TagUse(
                band.tag_id,
                Role.ADDS,
                f"added by quiz {band.quiz.title!r} (score {band})",
                reverse("admin:learning_quiz_change", args=[band.quiz_id]),
            )
        )
    for option in options:
        uses.append(
            TagUse(
                option.tag_id,
                Role.ADDS,
                f"added by choice {option.choice.question!r} ({option.label})",
                reverse("admin:learning_choice_change", args=[option.choice_id]),
            )
        )
    for template in templates:
        url = reverse("admin:learning_certificatetemplate_change", args=[template.pk])
        uses.append(
            TagUse(template.rule_tag_id, Role.NEEDS, f"issues certificate {template.name!r}", url)
        )
    for variant in variants:
        url = reverse("admin:learning_certificatetemplate_change", args=[variant.template_id])
        uses.append(
            TagUse(
                variant.tag_id,
                Role.NEEDS,
                f"chooses the {variant.level!r} variant of certificate {variant.template.name!r}",
                url,
            )
        )
    return uses
