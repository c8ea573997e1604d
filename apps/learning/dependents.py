"""What quizzes, choices and certificates add or need (for tags.dependents and the tag map):
"added by quiz 'Module 1 check'". One query (a UNION of five reads) whatever the rows."""

from collections.abc import Collection

from django.db.models import CharField, IntegerField, Q, QuerySet, Value
from django.urls import reverse

from apps.tags.dependents import Role, TagUse

from .models import CertificateTemplate, CertificateVariant, ChoiceOption, Quiz, ScoreBand

_TEXT, _NUMBER = CharField(), IntegerField()


def _row(queryset: QuerySet, tag: str, use: str, title: str, pk: str, extra: str = "") -> QuerySet:
    """(tag id, use, title, object id, extra text, from %, to %): one shape for every read."""
    numbers = ("from_percent", "to_percent") if use == "band" else (Value(0), Value(0))
    # No ordering inside the UNION's parts: SQLite refuses ORDER BY in a compound's subquery
    # (the models' Meta.ordering would add one).
    return queryset.order_by().values_list(
        tag,
        Value(use, output_field=_TEXT),
        title,
        pk,
        extra or Value("", output_field=_TEXT),
        *(n if isinstance(n, str) else Value(0, output_field=_NUMBER) for n in numbers),
    )


def _uses(tag_ids: Collection[int] | None) -> QuerySet:
    def only(field: str) -> Q:
        return Q(**{f"{field}__isnull": False}) & (
            Q() if tag_ids is None else Q(**{f"{field}__in": tag_ids})
        )

    parts = [
        _row(Quiz.objects.filter(only("pass_tag")), "pass_tag_id", "pass", "title", "pk"),
        _row(Quiz.objects.filter(only("fail_tag")), "fail_tag_id", "fail", "title", "pk"),
        _row(ScoreBand.objects.filter(only("tag")), "tag_id", "band", "quiz__title", "quiz_id"),
        _row(
            ChoiceOption.objects.filter(only("tag")),
            "tag_id",
            "choice",
            "choice__question",
            "choice_id",
            "label",
        ),
        _row(
            CertificateTemplate.objects.filter(only("rule_tag")),
            "rule_tag_id",
            "rule",
            "name",
            "pk",
        ),
        _row(
            CertificateVariant.objects.filter(only("tag")),
            "tag_id",
            "variant",
            "template__name",
            "template_id",
            "level",
        ),
    ]
    return parts[0].union(*parts[1:], all=True)


_ADMIN = {
    "pass": "learning_quiz",
    "fail": "learning_quiz",
    "band": "learning_quiz",
    "choice": "learning_choice",
    "rule": "learning_certificatetemplate",
    "variant": "learning_certificatetemplate",
}


def _text(use: str, title: str, extra: str, low: int, high: int) -> tuple[Role, str]:
    return {
        "pass": (Role.ADDS, f"added by quiz {title!r} (pass)"),
        "fail": (Role.ADDS, f"added by quiz {title!r} (fail)"),
        "band": (Role.ADDS, f"added by quiz {title!r} (score {low}–{high} %)"),
        "choice": (Role.ADDS, f"added by choice {title!r} ({extra})"),
        "rule": (Role.NEEDS, f"issues certificate {title!r}"),
        "variant": (Role.NEEDS, f"chooses the {extra!r} variant of certificate {title!r}"),
    }[use]


def learning_uses_of_tag(tag_ids: Collection[int] | None) -> list[TagUse]:
    uses = []
    for tag_id, use, title, pk, extra, low, high in _uses(tag_ids):
        role, text = _text(use, title, extra, low, high)
        url = reverse(f"admin:{_ADMIN[use]}_change", args=[pk])
        uses.append(TagUse(tag_id, role, text, url))
    return uses
