import json

from django.core.management.base import BaseCommand, CommandError

from apps.automations.portable import AutomationFileError, automation_import


class Command(BaseCommand):
    help = "Create an automation from a JSON file written by automation_export."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the JSON file ('-' for standard input)")
        parser.add_argument("--name", help="a name for the new automation (default: the file's)")
        parser.add_argument(
            "--status",
            choices=["draft", "live", "paused"],
            help="the new automation's status (default: the file's)",
        )

    def handle(self, *args, file, name=None, status=None, **options):
        try:
            if file == "-":
                import sys

                data = json.load(sys.stdin)
            else:
                with open(file, encoding="utf-8") as fh:
                    data = json.load(fh)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        except json.JSONDecodeError as exc:
            raise CommandError(f"{file} is not valid JSON: line {exc.lineno}: {exc.msg}.") from None
        try:
            automation = automation_import(data, name=name, status=status)
        except AutomationFileError as exc:
            raise CommandError(f"{file}: {' '.join(exc.messages)}") from None
        self.stdout.write(
            f"Imported {automation.name!r} as automation {automation.pk} ({automation.status})."
        )
