"""Staff users for permission tests: no permission, view only, full (every permission, yet
not a superuser, so Django's permission checks really run)."""

from django.contrib.auth.models import Group, Permission, User

NONE, VIEW, FULL = "none", "view", "full"
LEVELS = (NONE, VIEW, FULL)


def staff_user(username: str, level: str = NONE, *, perms=(), role: str | None = None) -> User:
    """A staff user at ``level``; ``perms`` adds "app.codename" permissions, ``role`` a group
    made by the staff-roles migration."""
    user = User.objects.create_user(username, password="pw-" + username, is_staff=True)
    granted = Permission.objects.none()
    if level == VIEW:
        # Every model's "view"; the finer view rights (secrets, bodies, URLs) are not views
        # of a model, so a view-only user has none of them.
        granted = Permission.objects.filter(codename__startswith="view_").exclude(
            codename__in=[
                "view_subscriber_secrets",
                "view_emailmessage_body",
                "view_webhookendpoint_url",
            ]
        )
    elif level == FULL:
        granted = Permission.objects.all()
    user.user_permissions.set(granted)
    for name in perms:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    if role:
        roles_ensure()
        user.groups.add(Group.objects.get(name=role))
    return user


def roles_ensure() -> None:
    """The roles as the migration made them: a transactional test before this one flushed
    every table, groups included."""
    import importlib

    from django.apps import apps

    if Group.objects.filter(name__in=["Owner", "Creator", "Support"]).count() < 3:
        migration = importlib.import_module("apps.staff.migrations.0001_staff_roles")
        migration.roles_create(apps, None)
