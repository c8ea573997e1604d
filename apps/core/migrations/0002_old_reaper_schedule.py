from django.db import migrations

OLD = "automations: return runs whose worker died"


def forward(apps, schema_editor):
    # The reaper moved to core.leases_reap (every LEASE_REAP_SECONDS); the old schedule row
    # would go on running the runs-only reaper beside it.
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=OLD).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("django_celery_beat", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
