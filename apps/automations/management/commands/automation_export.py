import json

from django.core.management.base import BaseCommand, CommandError

from apps.automations.models import Automation
from apps.automations.portable import automation_export


class Command(BaseCommand):
    help = "Write an automation as JSON (schema tessera.automation, version 1)."

    def add_arguments(self, parser):
        parser.add_argument("automation", help="the automation's id or exact name")
        parser.add_argument("-o", "--output", help="a file to write (default: standard output)")

    def handle(self, *args, automation, output=None, **options):
        query = Automation.objects.filter(name=automation)
        if automation.isdigit():
            query = Automation.objects.filter(pk=int(automation)) | query
        found = query.first()
        if found is None:
            raise CommandError(f"No automation has the id or name {automation!r}.")
        text = json.dumps(automation_export(found), indent=2, ensure_ascii=False) + "\n"
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
            self.stderr.write(f"Wrote {found.name!r} to {output}")
        else:
            self.stdout.write(text, ending="")
