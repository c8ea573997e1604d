"""Staff roles (Owner, Creator, Support) from the migration, and the admin they see: branded
"Tessera", the creator's pages first, the plumbing only for those whose role opens it."""

import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.staff import staff_user

pytestmark = pytest.mark.django_db

PLUMBING = [
    "django_celery_beat.periodictask",
    "authtoken.tokenproxy",
    "crm.event",
    "crm.webhookdelivery",
    "members.webhookcall",
    "api.apicredential",
]
CREATOR_PAGES = [
    "Offerings",
    "Automations",
    "Subscribers",
    "Tags",
    "Sequences",
    "Broadcasts",
    "Forms",
    "Email messages",
    "Webhook Generator",
]


def _codenames(group: str) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in Group.objects.get(name=group).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def _sections(page: str) -> list[tuple[str, list[str]]]:
    """(section heading, the model names under it), in page order, from the index's list."""
    content = page.split('id="content-main"', 1)[1]
    sections = []
    for block in re.findall(r'<div class="app-[\w-]+ module.*?</table>', content, re.S):
        heading = re.search(r'class="section"[^>]*>(.*?)</a>', block).group(1)
        names = re.findall(r'<th scope="row" id="[^"]+">\s*<a href="[^"]+"[^>]*>(.*?)</a>', block)
        sections.append((heading, names))
    return sections


def test_the_migration_makes_three_roles():
    assert set(Group.objects.values_list("name", flat=True)) >= {"Owner", "Creator", "Support"}


def test_the_creator_role_holds_no_plumbing_and_the_capabilities():
    creator = _codenames("Creator")
    for label in PLUMBING:
        app, model = label.split(".")
        assert not {p for p in creator if p.startswith(f"{app}.") and p.endswith(f"_{model}")}
    assert {
        "members.mint_webhookendpoint",
        "members.rotate_webhookendpoint",
        "members.view_webhookendpoint_url",
        "crm.view_emailmessage_body",
        "crm.view_subscriber_secrets",
        "automations.change_automation",
    } <= creator


def test_support_reads_and_fixes_but_holds_no_secret_or_capability():
    support = _codenames("Support")
    assert {"crm.view_subscriber", "crm.change_subscriber", "offerings.change_accessgrant"} <= (
        support
    )
    assert not support & {
        "members.mint_webhookendpoint",
        "members.rotate_webhookendpoint",
        "members.revoke_webhookendpoint",
        "members.view_webhookendpoint_url",
        "crm.view_emailmessage_body",
        "crm.view_subscriber_secrets",
        "automations.change_automation",
    }


def test_the_owner_role_holds_every_permission():
    from django.contrib.auth.models import Permission

    assert Group.objects.get(name="Owner").permissions.count() == Permission.objects.count()


def test_a_creator_sees_their_pages_first_and_no_plumbing(client):
    # given a staff user in the Creator role
    client.force_login(staff_user("creator", role="Creator"))
    # when they open the admin
    page = client.get(reverse("admin:index")).content.decode()
    # then it is Tessera's, their pages come first in the working order, and no plumbing shows
    assert "<title>Your courses and your list | Tessera</title>" in page
    assert "Django administration" not in page
    sections = _sections(page)
    assert sections[0] == ("Your work", CREATOR_PAGES)
    assert "Plumbing" not in [heading for heading, _ in sections]
    for label in PLUMBING:
        assert reverse(f"admin:{label.replace('.', '_')}_changelist") not in page


def test_an_owner_sees_the_plumbing_last(client):
    client.force_login(staff_user("owner", role="Owner"))
    sections = _sections(client.get(reverse("admin:index")).content.decode())
    assert sections[0] == ("Your work", CREATOR_PAGES)
    heading, names = sections[-1]
    assert heading == "Plumbing"
    assert {"Periodic tasks", "Events", "Webhook deliveries", "Webhook calls"} <= set(names)
