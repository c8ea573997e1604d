"""Member pages in French, and a catalogue that covers every string of ours."""

import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from apps.members.models import Operation
from apps.members.services import member_login_ensure, operation_run
from apps.offerings.models import Lesson
from tests.conftest import REQUIRE_SERVICES
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db
# Where our member-facing strings live: member and public pages, emails, the player.
FRENCH_DAYS = {"lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"}
OURS = ("templates/members/", "templates/crm/", "apps/members/", "apps/offerings/")


@pytest.fixture
def french_member(client):
    course = weekly_course()
    subscriber = SubscriberFactory(email="lea@example.com")
    client.force_login(member_login_ensure(subscriber=subscriber, source="test").member.user)
    operation_run(operation=Operation.RELEASE, offering=course, email=subscriber.email, source="t")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    return course


def test_dashboard_offering_and_lesson_pages_render_in_french(client, french_member):
    course = french_member
    lesson = Lesson.objects.get(title="M1 lesson 1")

    dashboard = client.get(reverse("members:dashboard")).content.decode()
    offering = client.get(reverse("members:offering", args=[course.slug])).content.decode()
    page = client.get(reverse("members:lesson", args=[course.slug, lesson.slug])).content.decode()

    assert '<html lang="fr">' in dashboard and "Mes cours" in dashboard
    assert "0 leçons terminées sur 6" in dashboard and "Commencer" in dashboard
    assert "verrouillé" in offering and "Progression du cours" in offering
    # dates in French, in the site's time zone, labelled
    opening = re.search(r"Ouvre le (\w+) \d+ (\w+) \d{4}, \d\d:\d\d \(UTC\)", offering)
    assert opening and opening[1] in FRENCH_DAYS
    assert "Terminer et continuer" in page and "Plan du cours" in page
    assert "Aller au contenu" in page


def test_the_language_chosen_in_my_account_sticks(client, french_member):
    response = client.post(reverse("set_language"), {"language": "fr", "next": "/account/"})

    assert response.status_code == 302
    assert "Langue de l’espace membre" in client.get(reverse("members:account")).content.decode()


def _entries(po: Path) -> list[tuple[str, str, list[str], bool]]:
    """(msgid, msgstr, references, fuzzy) of a .po file: enough of the format for a check."""
    entries, current, field = [], None, None
    for line in po.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if current and current["msgid"]:
                entries.append(
                    (current["msgid"], current["msgstr"], current["refs"], current["fuzzy"])
                )
            current, field = None, None
            continue
        current = current or {"msgid": "", "msgstr": "", "refs": [], "fuzzy": False}
        if line.startswith("#:"):
            current["refs"] += line[2:].split()
        elif line.startswith("#,") and "fuzzy" in line:
            current["fuzzy"] = True
        elif line.startswith(("msgid ", "msgstr ", "msgstr[0] ")):
            field = "msgid" if line.startswith("msgid ") else "msgstr"
            current[field] += line.split(" ", 1)[1].strip()[1:-1]
        elif line.startswith('"') and field:
            current[field] += line[1:-1]
    return entries


def test_makemessages_finds_no_untranslated_string_of_ours(tmp_path, monkeypatch, settings):
    if not shutil.which("xgettext"):
        if REQUIRE_SERVICES:
            pytest.fail("xgettext is missing: apt-get install gettext")
        pytest.skip("needs xgettext (apt-get install gettext)")
    # given: a copy of the catalogue, so the run cannot touch the committed one
    root = Path(settings.BASE_DIR)
    shutil.copytree(root / "locale", tmp_path / "locale")
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(root)

    # when
    call_command(
        "makemessages",
        locale=["fr"],
        ignore_patterns=["node_modules", "var", "tests", "bench", "*.egg-info"],
        verbosity=0,
    )

    # then
    ours = [
        (msgid, refs)
        for msgid, msgstr, refs, fuzzy in _entries(tmp_path / "locale/fr/LC_MESSAGES/django.po")
        if (not msgstr or fuzzy) and any(ref.startswith(OURS) for ref in refs)
    ]
    assert ours == [], "translate these in locale/fr/LC_MESSAGES/django.po"
