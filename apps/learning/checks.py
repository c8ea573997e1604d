"""What a creator's quiz, choice and certificate must be before they are saved. Each refusal
names the place (question 2, the band 70–80 %, variant "VIP" line 3) and what to do. The
admin's forms and the services call the same checks."""

import html
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from apps.crm.liquid import TemplateError, template_render
from apps.tags.services import tag_name_key

from .models import QUESTION_TRAITS, QuestionKind


@dataclass
class QuestionSpec:
    text: str
    kind: str = QuestionKind.SINGLE
    # (text, correct); for a short answer, the accepted answers (all correct).
    options: list[tuple[str, bool]] = field(default_factory=list)


@dataclass
class BandSpec:
    from_percent: int
    to_percent: int
    tag: str


def _traits(kind: str):
    return QUESTION_TRAITS.get(kind, QUESTION_TRAITS[QuestionKind.SINGLE])


def option_lines_parse(text: str, kind: str) -> list[tuple[str, bool]]:
    """The admin's options box: one option a line, a leading * marks a correct one; for a
    short answer every line is an accepted answer."""
    options = []
    for line in (text or "").splitlines():
        line = line.strip()
        correct = line.startswith("*")
        line = line.lstrip("*").strip()
        if line:
            options.append((line, correct or _traits(kind).typed))
    return options


def option_lines_format(options: list[tuple[str, bool]], kind: str) -> str:
    if _traits(kind).typed:
        return "\n".join(text for text, _ in options)
    return "\n".join(f"* {text}" if correct else text for text, correct in options)


def question_check(question: QuestionSpec, number: int) -> None:
    place = f"Question {number} (“{question.text[:60]}”)"
    if not question.text.strip():
        raise ValidationError(f"Question {number}: write the question.")
    correct = [text for text, ok in question.options if ok]
    traits = _traits(question.kind)
    if traits.typed:
        if not correct:
            raise ValidationError(
                f"{place} has no correct answer: write each accepted answer on its own line."
            )
        return
    if len(question.options) < 2:
        raise ValidationError(f"{place} needs at least two options, one a line.")
    if not correct:
        raise ValidationError(
            f"{place} has no correct answer: start the right option's line with *."
        )
    if traits.one and len(correct) > 1:
        raise ValidationError(
            f"{place} is single choice but marks {len(correct)} options correct: mark one, "
            "or make it multiple choice."
        )


def questions_check(questions: list[QuestionSpec]) -> None:
    if not questions:
        raise ValidationError("A quiz needs at least one question.")
    for number, question in enumerate(questions, 1):
        question_check(question, number)


def bands_check(bands: list[BandSpec]) -> None:
    """Bands cover 0 to 100 %, each from its "from" (included) to its "to" (excluded), with
    neither a gap nor an overlap between neighbours."""
    ordered = sorted(bands, key=lambda b: (b.from_percent, b.to_percent))
    for band in ordered:
        if not 0 <= band.from_percent < band.to_percent <= 100:
            raise ValidationError(
                f"Score band “{band.tag}” ({band.from_percent}–{band.to_percent} %): "
                "“from” must be below “to”, both between 0 and 100."
            )
    if not ordered:
        return
    if ordered[0].from_percent != 0:
        raise ValidationError(
            f"Score bands leave a gap from 0 to {ordered[0].from_percent} %: start the first "
            "band at 0."
        )
    for before, after in zip(ordered, ordered[1:], strict=False):
        where = (
            f"Score bands “{before.tag}” ({before.from_percent}–{before.to_percent} %) and "
            f"“{after.tag}” ({after.from_percent}–{after.to_percent} %)"
        )
        if after.from_percent > before.to_percent:
            raise ValidationError(
                f"{where} leave a gap from {before.to_percent} to {after.from_percent} %: "
                f"start the second at {before.to_percent}."
            )
        if after.from_percent < before.to_percent:
            raise ValidationError(
                f"{where} overlap from {after.from_percent} to "
                f"{min(before.to_percent, after.to_percent)} %: a band ends where the next "
                "one starts."
            )
    if ordered[-1].to_percent != 100:
        raise ValidationError(
            f"Score bands leave a gap from {ordered[-1].to_percent} to 100 %: end the last "
            "band at 100."
        )


def choice_options_check(options: list[tuple[str, str]]) -> None:
    """(label, tag name) pairs: two at least, each with a tag, no tag twice."""
    if len(options) < 2:
        raise ValidationError("A choice needs at least two options.")
    seen: dict[str, str] = {}
    for number, (label, tag) in enumerate(options, 1):
        if not label.strip() or not tag:
            raise ValidationError(f"Option {number}: give it a label and the tag it adds.")
        key = tag_name_key(tag)  # "Track - Sales" is "Track – Sales"
        if key in seen:
            raise ValidationError(
                f"Options “{seen[key]}” and “{label}” add the same tag “{tag}”: give each "
                "option its own tag."
            )
        seen[key] = label


CERTIFICATE_SAMPLE = {
    "name": "Ada Lovelace",
    "offering": "Foundation Course",
    "level": "VIP",
    "date": "27 November 2026",
    "verification_code": "SAMPLE-CODE",
    "verification_url": "https://example.com/certificates/verify/SAMPLE-CODE/",
}


def certificate_context(values: dict) -> dict:
    """Values escaped for HTML: a member named ``<b>`` prints as text, not markup."""
    return {key: html.escape(str(value)) for key, value in values.items()}


def certificate_source_check(source: str, *, place: str) -> None:
    """Render with sample values: a syntax error or an unknown variable is refused, with the
    place and line."""
    try:
        template_render(source, certificate_context(CERTIFICATE_SAMPLE))
    except TemplateError as exc:
        known = ", ".join(CERTIFICATE_SAMPLE)
        raise ValidationError(f"{place}, {exc} (the variables are: {known}).") from None


def certificate_variants_check(variants: list[tuple[str, str | None, str, str]]) -> None:
    """(level, tag name or None, html, css) per variant."""
    if not variants:
        raise ValidationError("A certificate needs at least one variant.")
    fallbacks = [level for level, tag, _, _ in variants if not tag]
    if len(fallbacks) > 1:
        raise ValidationError(
            f"Variants {', '.join(f'“{x}”' for x in fallbacks)} have no tag: only one variant "
            "may be for everyone else; give the others a tag."
        )
    for level, _, source, css in variants:
        certificate_source_check(source, place=f"Variant “{level}” HTML")
        certificate_source_check(css, place=f"Variant “{level}” CSS")
