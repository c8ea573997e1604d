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
    from apps.staff.roles import roles_extend as extend

    extend(apps, creator=CREATOR, support=SUPPORT)


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0002_kit_v4_roles"),
        ("commerce", "0001_initial"),
        ("members", "0007_purchase_carts"),
    ]

    operations = [migrations.RunPython(roles_extend, migrations.RunPython.noop)]
