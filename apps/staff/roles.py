"""What the role migrations share. Migrations import it with the historical ``apps`` they
are given, so it never touches the live models; change it only in ways every existing role
migration can still run with."""


def permissions_create(apps) -> None:
    """Content types and permissions for every model of this migration state (Django makes
    them only in ``post_migrate``, after the whole run, too late for a role migration)."""
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_contenttypes(app_config, verbosity=0, apps=apps)
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None


def roles_extend(apps, *, creator: dict[str, str], support: dict[str, str]) -> None:
    """New models join the roles: Owner holds every permission again; Creator and Support
    get the verbs named per model label (``{"tags.segment": "add change delete view"}``)."""
    permissions_create(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    owner = Group.objects.filter(name="Owner").first()
    if owner is not None:
        owner.permissions.set(Permission.objects.all())
    for name, spec in (("Creator", creator), ("Support", support)):
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
