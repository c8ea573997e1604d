from django.core.management.base import BaseCommand
from django.db import transaction

from apps.crm.demo import seed_steps_all


class Command(BaseCommand):
    help = "Create the demo data (admin account, subscribers, the guide's tags...). Safe to rerun."

    def handle(self, *args, **options):
        for step in seed_steps_all():
            with transaction.atomic():
                lines = step.run()
            for line in lines:
                self.stdout.write(line)
