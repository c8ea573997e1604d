"""Certificates: issued once per member and template when the rule holds, in the variant the
member's tags choose, as a PDF with their name and level; listed on the dashboard, linked from
email, verifiable by code; Liquid errors refused on save; a PDF that cannot be made says why."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from apps.crm.dispatch import events_dispatch
from apps.crm.liquid import subscriber_liquid_context
from apps.learning.models import Certificate, CompletionRule
from apps.learning.services.certificates import certificate_template_create, certificates_issue_due
from apps.learning.services.quizzes import quiz_attempt_submit
from apps.members.models import Operation
from apps.members.services import operation_run
from apps.offerings.models import Lesson
from apps.offerings.services import lesson_complete
from tests.automations.helpers import tag
from tests.learning.helpers import answers_for, member, module_one_check
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db

VIP = "VIP Member"


def _levels(course):
    return certificate_template_create(
        offering=course,
        name="Completion",
        variants=[("VIP", VIP), ("Standard", None)],
    )


def _complete_all(subscriber, course):
    for lesson in Lesson.objects.filter(offering=course).select_related("module"):
        lesson_complete(subscriber=subscriber, lesson=lesson)


def _pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_completing_the_course_issues_the_vip_or_standard_certificate_once(client):
    # given
    course = weekly_course()
    _levels(course)
    vip = member("vip@example.com", course, first_name="Vera")
    standard = member("std@example.com", course, first_name="Sam")
    tag(vip.subscriber, VIP)

    # when: both complete every lesson (the dispatcher's consumer issues)
    _complete_all(vip.subscriber, course)
    _complete_all(standard.subscriber, course)
    events_dispatch()

    # then
    issued = {c.subscriber_id: c for c in Certificate.objects.all()}
    assert issued[vip.subscriber_id].level == "VIP"
    assert issued[standard.subscriber_id].level == "Standard"
    assert certificates_issue_due(subscriber_ids=[vip.subscriber_id]) == []  # once

    # the PDF carries the name and the level
    client.force_login(vip.user)
    code = issued[vip.subscriber_id].code
    response = client.get(reverse("learning:certificate_pdf", args=[code]))
    assert response["Content-Type"] == "application/pdf"
    text = _pdf_text(response.content)
    assert "Vera" in text and "VIP" in text and "Foundation Course" in text and code in text
    # another member's code is not theirs to download
    other = issued[standard.subscriber_id].code
    assert client.get(reverse("learning:certificate_pdf", args=[other])).status_code == 404
    # the dashboard lists it
    dashboard = client.get(reverse("members:dashboard")).content.decode()
    assert f'data-certificate="{code}"' in dashboard and "Foundation Course – VIP" in dashboard
    # an email can link it
    context = subscriber_liquid_context(vip.subscriber)
    assert context["certificate_url"].endswith(f"/certificates/{code}.pdf")


def test_the_public_verification_page_shows_name_offering_and_date_only(client):
    # given
    course = weekly_course()
    _levels(course)
    mia = member("mia@example.com", course, first_name="Mia")
    _complete_all(mia.subscriber, course)
    certificate = certificates_issue_due(subscriber_ids=[mia.subscriber_id])[0]

    # when: anyone, logged out
    page = client.get(reverse("learning:certificate_verify", args=[certificate.code]))

    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="verified-name">Mia<' in html and "Foundation Course" in html
    assert "mia@example.com" not in html and "Standard" not in html
    missing = client.get(reverse("learning:certificate_verify", args=["NOPE-NOPE"]))
    assert missing.status_code == 404 and "No certificate has the code" in missing.content.decode()


def test_a_quiz_pass_or_a_tag_can_be_the_rule():
    # given
    course = weekly_course()
    quiz = module_one_check()
    certificate_template_create(
        offering=course,
        name="Quiz",
        rule=CompletionRule.QUIZ_PASSED,
        rule_quiz=quiz,
        variants=[("Certified", None)],
    )
    certificate_template_create(
        offering=course,
        name="Tag",
        rule=CompletionRule.TAG,
        rule_tag="Course Complete",
        variants=[("Graduate", None)],
    )
    mia = member("mia@example.com", course).subscriber

    # when / then
    quiz_attempt_submit(subscriber=mia, quiz=quiz, answers=answers_for(quiz, 1))
    assert certificates_issue_due(subscriber_ids=[mia.pk]) == []
    quiz_attempt_submit(subscriber=mia, quiz=quiz, answers=answers_for(quiz, 5))
    assert [c.level for c in certificates_issue_due(subscriber_ids=[mia.pk])] == ["Certified"]
    tag(mia, "Course Complete")
    assert [c.level for c in certificates_issue_due(subscriber_ids=[mia.pk])] == ["Graduate"]


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        (
            [("VIP", VIP, "<h1>{{ name }</h1>", "")],
            "Variant “VIP” HTML, line 1:",
        ),
        (
            [("VIP", VIP, "<h1>{{ nme }}</h1>", "")],
            "Variant “VIP” HTML, ",
        ),
        (
            [("VIP", VIP, "<h1>{{ name }}</h1>", "h1 { color: red; }\n{% if %}")],
            "Variant “VIP” CSS, line 2:",
        ),
        (
            [("A", None, "x", ""), ("B", None, "y", "")],
            "Variants “A”, “B” have no tag",
        ),
        ([], "A certificate needs at least one variant."),
    ],
)
def test_a_certificate_template_is_refused_with_the_place_named(variants, message):
    course = weekly_course()
    with pytest.raises(ValidationError) as refused:
        certificate_template_create(offering=course, name="C", variants=variants)
    assert message in refused.value.messages[0]
    if "nme" in str(variants):
        assert (
            "nme" in refused.value.messages[0] and "verification_code" in refused.value.messages[0]
        )


def test_without_weasyprint_the_download_says_why(client, monkeypatch):
    # given
    from apps.learning import pdf, views

    course = weekly_course()
    _levels(course)
    mia = member("mia@example.com", course)
    _complete_all(mia.subscriber, course)
    code = certificates_issue_due(subscriber_ids=[mia.subscriber_id])[0].code

    def broken(html):
        raise pdf.PdfUnavailable("Certificates cannot be made into PDF on this server: test")

    monkeypatch.setattr(views, "pdf_render", broken)
    client.force_login(mia.user)

    # when
    response = client.get(reverse("learning:certificate_pdf", args=[code]))

    # then
    assert response.status_code == 503
    assert "Certificates cannot be made into PDF on this server" in response.content.decode()


def test_the_dashboard_and_verification_pages_run_a_fixed_number_of_queries(client):
    # given: one member with one certificate, then with three
    courses = [weekly_course(name) for name in ("Course A", "Course B", "Course C")]
    for course in courses:
        _levels(course)
    mia = member("mia@example.com", courses[0])
    _complete_all(mia.subscriber, courses[0])
    certificates_issue_due(subscriber_ids=[mia.subscriber_id])
    client.force_login(mia.user)
    dashboard = reverse("members:dashboard")
    client.get(dashboard)

    def count(url):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    one = count(dashboard)
    for course in courses[1:]:
        operation_run(
            operation=Operation.RELEASE, offering=course, email=mia.subscriber.email, source="test"
        )
        _complete_all(mia.subscriber, course)
    certificates_issue_due(subscriber_ids=[mia.subscriber_id])
    assert Certificate.objects.count() == 3

    # when / then
    assert count(dashboard) == one
    code = Certificate.objects.first().code
    assert count(reverse("learning:certificate_verify", args=[code])) <= 3
    # the PDF: session, user, member, the certificate
    assert count(reverse("learning:certificate_pdf", args=[code])) <= 4


def test_issuing_by_hand_ignores_the_rule_and_gives_the_one_already_issued():
    # given
    from apps.learning.services.certificates import certificate_issue

    course = weekly_course()
    template = _levels(course)
    mia = member("mia@example.com", course).subscriber

    # when: nothing completed yet
    first = certificate_issue(subscriber_id=mia.pk, template=template)
    again = certificate_issue(subscriber_id=mia.pk, template=template)

    # then
    assert first.level == "Standard" and again.pk == first.pk
    assert Certificate.objects.count() == 1
