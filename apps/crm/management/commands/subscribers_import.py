import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.core.outbox import lease_holding
from apps.crm.imports import parsing, services

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Import subscribers from a CSV file (UTF-8; the first line names the columns): email, "
        "first name, custom fields and tags, the same import as the admin's Import CSV page."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=TARGET",
            help="read a column as email, first_name, tags, ignore or a custom field's key "
            "(overrides the guess from its name; repeat for more columns)",
        )
        parser.add_argument(
            "--tag", action="append", default=[], metavar="NAME", help="tag everyone imported"
        )
        parser.add_argument(
            "--check", action="store_true", help="only report the mapping and the bad lines"
        )

    def handle(self, *args, file, map, tag, check, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"There is no file at {file}.")
        if path.stat().st_size > parsing.IMPORT_FILE_MAX_BYTES:
            raise CommandError(
                f"{file} is larger than {parsing.IMPORT_FILE_MAX_BYTES // 1024 // 1024} MB; "
                "split it into smaller files."
            )
        try:
            # One transaction: a refused file or mapping leaves no draft import behind.
            with transaction.atomic():
                imp = services.subscriber_import_create(
                    data=path.read_bytes(), filename=path.name, tags=tag
                )
                imp = services.subscriber_import_map(
                    subscriber_import=imp, mapping=self._mapping(imp, map)
                )
                for column, target in zip(imp.header, imp.mapping, strict=True):
                    self.stdout.write(f"  {column} -> {target}")
                if check:
                    self._check(imp)
                    transaction.set_rollback(True)
                    return
                imp = services.subscriber_import_start(subscriber_import=imp, enqueue=False)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self._bar(imp)
        # The command holds the import's lease as a worker would: its heartbeat renews it for
        # as long as the import runs, so beat's reaper never hands it to a worker meanwhile.
        with lease_holding():
            imp = services.subscriber_import_run(import_id=imp.pk, on_progress=self._bar)
        self.stderr.write("")
        self._errors(imp.errors, imp.error_count)
        self.stdout.write(services.import_summary(subscriber_import=imp))

    def _check(self, imp) -> None:
        result = services.import_check(subscriber_import=imp)
        self._errors([list(e) for e in result.errors], len(result.errors))
        self.stdout.write(
            f"{len(result.rows)} of {result.rows_total} lines can be imported; "
            "nothing was written (--check)."
        )

    def _mapping(self, imp, overrides: list[str]) -> list[str]:
        mapping = list(imp.mapping)
        columns = {" ".join(c.split()).casefold(): i for i, c in enumerate(imp.header)}
        for override in overrides:
            column, sep, target = override.rpartition("=")
            index = columns.get(" ".join(column.split()).casefold())
            if not sep or index is None:
                raise CommandError(
                    f"--map {override!r}: there is no column named {column or override!r}; "
                    "the columns are: " + ", ".join(imp.header) + "."
                )
            target = target.strip()
            if target not in parsing.PLAIN_TARGETS and not target.startswith(parsing.FIELD_PREFIX):
                target = parsing.FIELD_PREFIX + target
            mapping[index] = target
        return mapping

    def _bar(self, imp) -> None:
        done = BAR_WIDTH * imp.percent // 100
        self.stderr.write(
            f"\r[{'#' * done}{'-' * (BAR_WIDTH - done)}] {imp.percent:3d} % "
            f"{imp.rows_done}/{imp.rows_valid} lines",
            ending="",
        )
        sys.stderr.flush()

    def _errors(self, errors: list, count: int) -> None:
        for _line, message in errors:
            self.stdout.write(message)
        if count > len(errors):
            self.stdout.write(f"... and {count - len(errors)} more lines with errors.")
