"""The staff roles, as groups: Owner (everything), Creator (the course and the list, not the
plumbing), Support (reads, and the fixes a member asks for). README "Staff roles" lists them.

Permissions are made here rather than left to ``post_migrate`` (which runs after every
migration), so the groups get them on a fresh database too. A model added later joins a role
through a migration of its own."""

from django.db import migrations

ALL = "add change delete view"

CREATOR = {
    "offerings.offering": ALL,
    "offerings.module": ALL,
    "offerings.lesson": ALL,
    "offerings.accessgrant": ALL,
    "offerings.modulerelease": "view",
    "offerings.lessonprogress": "view",
    "automations.automation": ALL,
    "automations.trigger": ALL,
    "automations.node": ALL,
    "automations.run": "view change",
    "automations.runstep": "view",
    "crm.subscriber": ALL + " view_subscriber_secrets",
    "crm.customfield": ALL,
    "crm.subscriberfieldvalue": ALL,
    "crm.subscriberimport": ALL,
    "crm.sequence": ALL,
    "crm.sequenceemail": ALL,
    "crm.sequencesubscription": ALL,
    "crm.form": ALL,
    "crm.formsubscription": "view",
    "crm.broadcast": ALL,
    "crm.purchase": "view",
    "crm.emailmessage": "view change view_emailmessage_body",
    "tags.tag": ALL,
    "tags.tagging": ALL,
    "members.member": "view change",
    "members.webhookendpoint": (
        "view change view_webhookendpoint_url mint_webhookendpoint rotate_webhookendpoint "
        "revoke_webhookendpoint"
    ),
}

SUPPORT = {
    **{label: "view" for label in CREATOR},
    "crm.subscriber": "view change",
    "crm.subscriberfieldvalue": "view change",
    "crm.emailmessage": "view change",
    "tags.tagging": "view add delete",
    "offerings.accessgrant": "view change",
    "automations.run": "view change",
    "members.webhookendpoint": "view",
    "members.webhookcall": "view change",
}

ROLES = {"Owner": None, "Creator": CREATOR, "Support": SUPPORT}


def _codenames(label: str, verbs: str) -> list[tuple[str, str]]:
    app_label, model = label.split(".")
    return [
        (app_label, verb if "_" in verb else f"{verb}_{model}") for verb in verbs.split()
    ]


def roles_create(apps, schema_editor):
    from apps.staff.roles import permissions_create

    permissions_create(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, spec in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        if spec is None:
            group.permissions.set(Permission.objects.all())
            continue
        wanted = [pair for label, verbs in spec.items() for pair in _codenames(label, verbs)]
        found = {
            (p.content_type.app_label, p.codename): p
            for p in Permission.objects.select_related("content_type")
        }
        missing = [pair for pair in wanted if pair not in found]
        if missing:
            raise RuntimeError(f"role {name}: no such permissions {missing}")
        group.permissions.set([found[pair] for pair in wanted])


def roles_delete(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    # Named migrations, never "__latest__": a later migration of any of these apps would
    # otherwise become a dependency of this already-applied one, and `migrate` on an
    # existing site would stop with InconsistentMigrationHistory.
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("sessions", "0001_initial"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("crm", "0006_staff_permissions"),
        ("members", "0005_staff_permissions"),
        ("tags", "0001_initial"),
        ("automations", "0001_initial"),
        ("offerings", "0001_initial"),
        ("api", "0001_initial"),
    ]

    operations = [migrations.RunPython(roles_create, roles_delete)]
