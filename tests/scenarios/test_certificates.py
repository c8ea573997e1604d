"""The guide's "different completion certificates based on course level", end to end: a VIP
member completes the course and gets the VIP certificate (a PDF read back with pdftotext),
the email that links it, the dashboard entry, the public verification; a Standard member gets
the Standard one."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse

from apps.crm.messaging.sending import emails_send
from apps.learning.models import Certificate
from apps.learning.services.certificates import certificate_template_create
from apps.offerings.models import Lesson
from apps.offerings.services import lesson_complete
from tests.automations.helpers import build, settle, tag, when
from tests.browser.conftest import SCREENSHOTS
from tests.learning.helpers import member
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db
VIP = "VIP Member"


def _email(subject: str) -> dict:
    return {
        "kind": "send_email",
        "settings": {
            "subject": subject,
            "body": "Well done, {{ subscriber.first_name }}! "
            "Your certificate: {{ certificate_url }}",
        },
        "label": subject,
    }


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    if shutil.which("pdftotext"):
        return subprocess.run(
            ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout
    from pypdf import PdfReader

    return " ".join(page.extract_text() for page in PdfReader(path).pages)


def _certificate_picture(pdf: bytes, tmp_path: Path) -> None:
    """The README's picture of a certificate: the PDF's first page as a PNG."""
    if not shutil.which("pdftoppm"):
        return
    source = tmp_path / "picture.pdf"
    source.write_bytes(pdf)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "70",
            "-singlefile",
            str(source),
            str(SCREENSHOTS / "certificate"),
        ],
        check=True,
    )


def test_vip_and_standard_members_get_their_certificate_by_email_dashboard_and_verification(
    client, settings, tmp_path
):
    # given: the course, its certificate in two variants, the guide's conditional email
    settings.SITE_URL = "https://courses.example.com"
    course = weekly_course("Foundation Course")
    certificate_template_create(
        offering=course, name="Completion", variants=[("VIP", VIP), ("Standard", None)]
    )
    build(
        name="Completion certificate by level",
        triggers=[{"event_type": "certificate_issued"}],
        steps=[
            when(
                {"has": VIP},
                yes=[_email("VIP Completion Certificate")],
                no=[_email("Standard Completion Certificate")],
            )
        ],
    )
    vera = member("vera@example.com", course, first_name="Vera")
    sam = member("sam@example.com", course, first_name="Sam")
    tag(vera.subscriber, VIP)

    # when: both complete every lesson
    for subscriber in (vera.subscriber, sam.subscriber):
        for lesson in Lesson.objects.filter(offering=course).select_related("module"):
            lesson_complete(subscriber=subscriber, lesson=lesson)
    settle()
    emails_send()

    # then: each got their level's email, linking their certificate
    sent = {m.to[0]: m for m in mail.outbox}
    assert sent["vera@example.com"].subject == "VIP Completion Certificate"
    assert sent["sam@example.com"].subject == "Standard Completion Certificate"
    link = re.search(
        r"https://courses\.example\.com(/certificates/[\w-]+\.pdf)", sent["vera@example.com"].body
    )
    vip_certificate = Certificate.objects.get(subscriber=vera.subscriber)
    assert link.group(1) == reverse("learning:certificate_pdf", args=[vip_certificate.code])

    # the PDF behind the link has the name and the level
    client.force_login(vera.user)
    pdf = client.get(link.group(1)).content
    text = _pdf_text(pdf, tmp_path)
    assert "Vera" in text and "VIP" in text and "Foundation Course" in text
    _certificate_picture(pdf, tmp_path)
    # the dashboard lists it
    assert f'data-certificate="{vip_certificate.code}"' in client.get("/").content.decode()

    # the public verification page confirms it, to anyone
    client.logout()
    verify = client.get(reverse("learning:certificate_verify", args=[vip_certificate.code]))
    assert verify.status_code == 200
    assert "Vera" in verify.content.decode()

    # the Standard member's PDF says Standard
    client.force_login(sam.user)
    standard = Certificate.objects.get(subscriber=sam.subscriber)
    text = _pdf_text(
        client.get(reverse("learning:certificate_pdf", args=[standard.code])).content, tmp_path
    )
    assert "Sam" in text and "Standard" in text and "VIP" not in text
