"""Event steps that waited for "member login created" wait for the release's own event.

A returning buyer already has a login, so the Release Offering operation creates none and a run
waiting for ``member_login_created`` waited for ever (issue 13). Every release now ends in
``access_granted`` for the offering (``new_login`` says whether the login is new), so each such
step becomes "access granted", narrowed to the offering whose Release Offering endpoint the
automation fires with a tag before that step (no filter when none is found). Runs waiting there
are woken: a release that already happened during their run lets them through at once.
"""

from django.db import migrations
from django.utils import timezone

OLD = "member_login_created"
NEW = "access_granted"
OLD_LABEL = "Wait for the member login"
NEW_LABEL = "Wait for the release (access granted)"


def _release_offering(node, add_tag_steps, release_offerings) -> int | None:
    """The offering of the release endpoint fired by an add-tag step of the same lane before
    ``node`` (the nearest one wins)."""
    before = [
        n
        for n in add_tag_steps
        if n.automation_id == node.automation_id
        and n.parent_id == node.parent_id
        and n.branch == node.branch
        and (n.position, n.pk) < (node.position, node.pk)
    ]
    for step in sorted(before, key=lambda n: (n.position, n.pk), reverse=True):
        offering = release_offerings.get(step.settings.get("tag_id"))
        if offering is not None:
            return offering
    return None


def forwards(apps, schema_editor):
    Node = apps.get_model("automations", "Node")
    Run = apps.get_model("automations", "Run")
    WebhookEndpoint = apps.get_model("members", "WebhookEndpoint")
    steps = [n for n in Node.objects.filter(kind="event") if n.settings.get("event_type") == OLD]
    if not steps:
        return
    release_offerings = dict(
        WebhookEndpoint.objects.filter(operation="release", trigger_tag__isnull=False).values_list(
            "trigger_tag_id", "offering_id"
        )
    )
    add_tag_steps = list(
        Node.objects.filter(automation_id__in={n.automation_id for n in steps}, kind="add_tag")
    )
    for node in steps:
        settings = {k: v for k, v in node.settings.items() if k != "event_type"}
        settings["event_type"] = NEW
        offering = _release_offering(node, add_tag_steps, release_offerings)
        if offering is not None:
            settings["offering_id"] = offering
        node.settings = settings
        if node.label == OLD_LABEL:
            node.label = NEW_LABEL
        node.save(update_fields=["settings", "label"])
    Run.objects.filter(
        current_node__in=steps, status="waiting", arrived=True, resume_at__isnull=True
    ).update(resume_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0005_staff_permissions"),
        ("automations", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
