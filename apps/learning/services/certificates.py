"""Certificates: defining an offering's certificate, and issuing it once to each member when
its completion rule holds (every lesson done, a tag, a quiz passed), in the variant their
tags choose. The page is rendered once, at issue; the PDF is made from it on download."""

import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import formats, timezone

from apps.crm.events import events_record_bulk
from apps.crm.liquid import template_render
from apps.crm.models import Subscriber, SubscriberFieldValue
from apps.offerings.event_types import LESSON_COMPLETED
from apps.offerings.models import Lesson, LessonProgress, Offering
from apps.tags.event_types import TAG_ADD
from apps.tags.models import Tagging
from apps.tags.services import tag_get_or_create

from ..checks import certificate_context, certificate_variants_check
from ..event_types import CERTIFICATE_ISSUED
from ..lock_objects import subscribers_for_update
from ..models import (
    DEFAULT_CERTIFICATE_CSS,
    DEFAULT_CERTIFICATE_HTML,
    Certificate,
    CertificateTemplate,
    CertificateVariant,
    CompletionRule,
    Quiz,
    QuizAttempt,
)

CODE_BYTES = 8
LAST_NAME_FIELD = "last_name"


@transaction.atomic
def certificate_template_create(
    *,
    offering: Offering,
    name: str,
    rule: str = CompletionRule.ALL_LESSONS,
    rule_tag: str | None = None,
    rule_quiz: Quiz | None = None,
    variants: list[tuple[str, str | None]] | list[tuple[str, str | None, str, str]],
) -> CertificateTemplate:
    """``variants``: (level, tag name or None) with the default look, or (level, tag, html,
    css); refused with the place named on a Liquid error."""
    full = [
        v if len(v) == 4 else (*v, DEFAULT_CERTIFICATE_HTML, DEFAULT_CERTIFICATE_CSS)
        for v in variants
    ]
    certificate_variants_check(full)
    if rule == CompletionRule.TAG and not rule_tag:
        raise ValidationError("Rule “the member has a tag”: name the tag.")
    if rule == CompletionRule.QUIZ_PASSED and rule_quiz is None:
        raise ValidationError("Rule “the member passed a quiz”: choose the quiz.")
    template = CertificateTemplate.objects.create(
        offering=offering,
        name=name,
        rule=rule,
        rule_tag=tag_get_or_create(name=rule_tag)[0] if rule_tag else None,
        rule_quiz=rule_quiz,
    )
    CertificateVariant.objects.bulk_create(
        CertificateVariant(
            template=template,
            position=i,
            level=level,
            tag=tag_get_or_create(name=tag)[0] if tag else None,
            html=source,
            css=css,
        )
        for i, (level, tag, source, css) in enumerate(full)
    )
    return template


def certificate_verify_url(code: str) -> str:
    return f"{settings.SITE_URL}{reverse('learning:certificate_verify', args=[code])}"


def certificate_download_url(code: str) -> str:
    return f"{settings.SITE_URL}{reverse('learning:certificate_pdf', args=[code])}"


def _new_code() -> str:
    raw = secrets.token_hex(CODE_BYTES).upper()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def certificate_document(*, variant: CertificateVariant, values: dict) -> str:
    context = certificate_context(values)
    body = template_render(variant.html, context)
    css = template_render(variant.css, context)
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<style>{css}</style></head><body>{body}</body></html>"
    )


@dataclass
class _Facts:
    """What the rules read, for a batch of members: five queries whatever their number."""

    issued: set[tuple[int, int]]
    held: defaultdict[int, set[int]]
    lessons: defaultdict[int, int]
    done: defaultdict[tuple[int, int], int]
    passed: set[tuple[int, int]]


def _facts(templates: list[CertificateTemplate], subscriber_ids: list[int]) -> _Facts:
    offering_ids = {t.offering_id for t in templates}
    tag_ids = {t.rule_tag_id for t in templates if t.rule_tag_id} | {
        v.tag_id for t in templates for v in t.variants.all() if v.tag_id
    }
    facts = _Facts(
        issued=set(
            Certificate.objects.filter(
                template__in=templates, subscriber_id__in=subscriber_ids
            ).values_list("subscriber_id", "template_id")
        ),
        held=defaultdict(set),
        lessons=defaultdict(int),
        done=defaultdict(int),
        passed=set(
            QuizAttempt.objects.filter(
                subscriber_id__in=subscriber_ids,
                quiz_id__in={t.rule_quiz_id for t in templates if t.rule_quiz_id},
                passed=True,
            ).values_list("subscriber_id", "quiz_id")
        ),
    )
    for sid, tid in Tagging.objects.filter(
        subscriber_id__in=subscriber_ids, tag_id__in=tag_ids
    ).values_list("subscriber_id", "tag_id"):
        facts.held[sid].add(tid)
    for oid in Lesson.objects.filter(offering_id__in=offering_ids).values_list(
        "offering_id", flat=True
    ):
        facts.lessons[oid] += 1
    for sid, oid in LessonProgress.objects.filter(
        subscriber_id__in=subscriber_ids, lesson__offering_id__in=offering_ids
    ).values_list("subscriber_id", "lesson__offering_id"):
        facts.done[sid, oid] += 1
    return facts


def _all_lessons(template: CertificateTemplate, sid: int, facts: _Facts) -> bool:
    total = facts.lessons[template.offering_id]
    return bool(total) and facts.done[sid, template.offering_id] >= total


# Whether a template's rule holds for one member, by rule.
RULES = {
    CompletionRule.ALL_LESSONS: _all_lessons,
    CompletionRule.TAG: lambda template, sid, facts: template.rule_tag_id in facts.held[sid],
    CompletionRule.QUIZ_PASSED: lambda template, sid, facts: (
        (sid, template.rule_quiz_id) in facts.passed
    ),
}


def _variant(template: CertificateTemplate, held: set[int]) -> CertificateVariant | None:
    """The first variant whose tag the member holds, else the one without a tag."""
    variants = list(template.variants.all())
    chosen = next((v for v in variants if v.tag_id and v.tag_id in held), None)
    return chosen or next((v for v in variants if not v.tag_id), None)


def _due(
    templates: list[CertificateTemplate], subscriber_ids: list[int]
) -> list[tuple[int, CertificateTemplate, CertificateVariant]]:
    """(subscriber, template, variant) for every rule that holds and certificate not yet
    issued."""
    facts = _facts(templates, subscriber_ids)
    due = []
    for sid in subscriber_ids:
        for template in templates:
            if (sid, template.pk) in facts.issued:
                continue
            if not RULES[CompletionRule(template.rule)](template, sid, facts):
                continue
            variant = _variant(template, facts.held[sid])
            if variant is not None:
                due.append((sid, template, variant))
    return due


@transaction.atomic
def certificates_issue_due(
    *, subscriber_ids: Iterable[int], offering_ids: Iterable[int] | None = None
) -> list[Certificate]:
    """Issue every certificate now due to these members (of these offerings' templates, or
    all); each once per member and template, whatever the concurrency."""
    subscriber_ids = sorted(set(subscriber_ids))
    found = CertificateTemplate.objects.select_related("offering").prefetch_related("variants")
    if offering_ids is not None:
        found = found.filter(offering_id__in=set(offering_ids))
    templates = list(found)
    if not templates or not subscriber_ids:
        return []
    list(subscribers_for_update(subscriber_ids))
    due = _due(templates, subscriber_ids)
    if not due:
        return []
    return _write(due)


@transaction.atomic
def certificate_issue(*, subscriber_id: int, template: CertificateTemplate) -> Certificate | None:
    """Issue ``template``'s certificate to one member now, whatever its rule (an automation's
    step): the one already issued if there is one; None when no variant fits their tags."""
    list(subscribers_for_update([subscriber_id]))
    existing = Certificate.objects.filter(template=template, subscriber_id=subscriber_id).first()
    if existing is not None:
        return existing
    template = (
        CertificateTemplate.objects.select_related("offering")
        .prefetch_related("variants")
        .get(pk=template.pk)
    )
    variant_tags = [v.tag_id for v in template.variants.all() if v.tag_id]
    held = set(
        Tagging.objects.filter(subscriber_id=subscriber_id, tag_id__in=variant_tags).values_list(
            "tag_id", flat=True
        )
    )
    variant = _variant(template, held)
    if variant is None:
        return None
    return _write([(subscriber_id, template, variant)])[0]


def _write(due: list[tuple[int, CertificateTemplate, CertificateVariant]]) -> list[Certificate]:
    """The certificates and their events, each page rendered as of today."""
    subscribers = Subscriber.objects.in_bulk([sid for sid, _, _ in due])
    last_names = dict(
        SubscriberFieldValue.objects.filter(
            subscriber_id__in=subscribers, field__key=LAST_NAME_FIELD
        ).values_list("subscriber_id", "value")
    )
    now = timezone.now()
    issued = []
    for sid, template, variant in due:
        subscriber = subscribers[sid]
        name = " ".join(x for x in (subscriber.first_name, last_names.get(sid, "")) if x)
        code = _new_code()
        values = {
            "name": name or subscriber.email,
            "offering": template.offering.name,
            "level": variant.level,
            "date": formats.date_format(now, "DATE_FORMAT"),
            "verification_code": code,
            "verification_url": certificate_verify_url(code),
        }
        issued.append(
            Certificate(
                template=template,
                variant=variant,
                subscriber_id=sid,
                code=code,
                name=values["name"],
                offering_name=values["offering"],
                level=variant.level,
                html=certificate_document(variant=variant, values=values),
                issued_at=now,
            )
        )
    Certificate.objects.bulk_create(issued)
    events_record_bulk(
        events=[
            (
                c.subscriber_id,
                CERTIFICATE_ISSUED,
                {
                    "template_id": c.template_id,
                    "offering_id": c.template.offering_id,
                    "level": c.level,
                    "code": c.code,
                },
            )
            for c in issued
        ]
    )
    return issued


def certificates_on_events(events) -> None:
    """The dispatcher's consumer: a lesson completed, a tag added or a quiz passed may make
    a certificate due. One query finds the templates these events could satisfy (usually
    none: then nothing more is read)."""
    tag_ids, offering_ids, quiz_ids, subscriber_ids = set(), set(), set(), set()
    for event in events:
        if not event.subscriber_id:
            continue
        payload = event.payload or {}
        subscriber_ids.add(event.subscriber_id)
        if event.type == TAG_ADD:
            tag_ids.add(payload.get("tag_id"))
        elif event.type == LESSON_COMPLETED:
            offering_ids.add(payload.get("offering_id"))
        elif payload.get("passed"):
            quiz_ids.add(payload.get("quiz_id"))
    could = CertificateTemplate.objects.filter(
        Q(rule=CompletionRule.TAG, rule_tag_id__in=tag_ids - {None})
        | Q(rule=CompletionRule.ALL_LESSONS, offering_id__in=offering_ids - {None})
        | Q(rule=CompletionRule.QUIZ_PASSED, rule_quiz_id__in=quiz_ids - {None})
    ).values_list("offering_id", flat=True)
    offerings = set(could)
    if offerings:
        certificates_issue_due(subscriber_ids=subscriber_ids, offering_ids=offerings)
