"""Selling joins the roles: Owner holds every permission again; a Creator sets up products
and prices and reads orders, subscriptions and Stripe's event log (only Stripe and the carts
write those); Support reads the orders and subscriptions a buyer asks about."""

from django.db import migrations

CREATOR = {
    "commerce.product": "add change delete view",
    "commerce.price": "add change delete view",
    "commerce.order": "view",
    "commerce.subscription": "view",
    "commerce.stripeevent": "view",
}
SUPPORT = {"commerce.order": "view", "commerce.subscription": "view"}


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
        ("staff", "0002_kit_v4_roles"),
        ("commerce", "0001_initial"),
        ("members", "0007_purchase_carts"),
    ]

    operations = [migrations.RunPython(roles_extend, migrations.RunPython.noop)]
