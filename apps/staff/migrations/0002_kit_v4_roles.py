"""Issue 20's models join the roles: Owner holds every permission again (API keys, Kit
imports, bulk jobs, OAuth apps and tokens are plumbing: Owner only); a Creator works with
segments and email templates like broadcasts; Support reads them."""

from django.db import migrations

CREATOR = {"tags.segment": "add change delete view", "crm.emailtemplate": "add change delete view"}
SUPPORT = {"tags.segment": "view", "crm.emailtemplate": "view"}


def roles_extend(apps, schema_editor):
    from apps.staff.roles import roles_extend as extend

    extend(apps, creator=CREATOR, support=SUPPORT)


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0001_staff_roles"),
        ("api", "0003_kit_import"),
        ("tags", "0003_kit_v4_segments"),
        ("crm", "0009_kit_v4_email_templates"),
        ("oauth2_provider", "0001_initial"),
        # Owner gets every permission that exists by then (named migrations, never
        # "__latest__", which would move under an already-applied migration).
        ("offerings", "0002_course_player"),
        ("automations", "0002_lease_holder"),
        ("members", "0005_staff_permissions"),
        ("core", "0002_old_reaper_schedule"),
    ]

    operations = [migrations.RunPython(roles_extend, migrations.RunPython.noop)]
