from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.api.kit_import import (
    kit_import_create,
    kit_import_run,
    kit_import_summary,
    kit_import_unfinished,
)
from apps.api.models import KitImportStatus
from apps.core.outbox import lease_holding


class Command(BaseCommand):
    help = (
        "Pull a Kit account over its v4 API: custom fields, tags, subscribers, forms, "
        "sequences, broadcasts (as drafts). Resumes an unfinished import from the same URL; "
        "a second run updates, never duplicates."
    )

    def add_arguments(self, parser):
        parser.add_argument("--api-key", required=True, help="the Kit account's v4 API key")
        parser.add_argument("--base-url", default="https://api.kit.com")
        parser.add_argument(
            "--restart", action="store_true", help="start from the beginning, not where it stopped"
        )

    def handle(self, *args, api_key, base_url, restart=False, **options):
        imp = None if restart else kit_import_unfinished(base_url=base_url)
        if imp is not None:
            imp.api_key = api_key
            imp.save(update_fields=["api_key"])
            self.stdout.write(f"Resuming import #{imp.pk} at {imp.stage or 'the start'}.")
        else:
            try:
                imp = kit_import_create(api_key=api_key, base_url=base_url)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
        last = [None]

        def progress(current):
            c = current.counts.get(current.stage, {})
            line = f"{current.stage}: {c.get('seen', 0)}"
            if current.stage in current.totals:
                line += f" / {current.totals[current.stage]}"
            if line != last[0]:
                self.stdout.write(line)
                self.stdout.flush()
                last[0] = line

        # The command holds the import's lease as a worker would: its heartbeat renews it for
        # as long as the import runs, so beat's reaper never hands it to a worker meanwhile.
        with lease_holding():
            imp = kit_import_run(kit_import=imp, progress=progress)
        for line in kit_import_summary(imp):
            self.stdout.write(line)
        for failure in imp.failures:
            self.stdout.write(
                f"not imported ({failure['stage']}): {failure['record']}: {failure['reason']}"
            )
        if imp.status != KitImportStatus.DONE:
            raise CommandError(f"Stopped: {imp.error} Run the same command again to resume.")
        self.stdout.write(self.style.SUCCESS(f"Import #{imp.pk} done."))
