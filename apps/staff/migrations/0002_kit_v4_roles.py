"""Issue 20's models join the roles: Owner holds every permission again (API keys, Kit
imports, bulk jobs, OAuth apps and tokens are plumbing: Owner only); a Creator works with
segments and email templates like broadcasts; Support reads them."""

from django.db import migrations

CREATOR = {"tags.segment": "add change delete view", "crm.emailtemplate": "add change delete view"}
SUPPORT = {"tags.segment": "view", "crm.emailtemplate": "view"}


def roles_extend(apps, schema_editor):
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_contenttypes(app_config, verbosity=0, apps=apps)
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    owner = Group.objects.filter(name="Owner").first()
    if owner is not None:
        owner.permissions.set(Permission.objects.all())
    for name, spec in (("Creator", CREATOR), ("Support", SUPPORT)):
        group = Group.objects.filter(name=name).first()
        if group is None:
            continue
        for label, verbs in spec.items():
            app_label, model = label.split(".")
            codenames = [f"{verb}_{model}" for verb in verbs.split()]
            group.permissions.add(
                *Permission.objects.filter(
                    content_type__app_label=app_label, codename__in=codenames
                )
            )


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
