"""CSV import of subscribers: upload, map the columns, check the lines, import in batches.

The same verbs serve the admin page (a worker runs the import) and ``manage.py
subscribers_import`` (the command runs it in-process with a progress bar). Each batch is one
transaction in a fixed number of queries: existing subscribers are read by email in one query,
new ones are created in bulk, field values and tags are written in bulk, and the events the
single-subscriber services would write (subscriber activated, field value updated, tag added)
are written in bulk too, so automations and hooks react as to any other change. Reading the
file and checking its lines is ``parsing.py`` (pure).

crm does not import tags: the tags app registers how tag names are checked and applied
(``import_tagger_register``) in its ``AppConfig.ready()``.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.outbox import LeaseLost, lease_fence, lease_finish, lease_take_over

from .. import lock_objects
from ..models import CustomField, ImportStatus, Subscriber, SubscriberImport
from ..services import (
    CUSTOM_FIELD_VALUE_MAX_CHARS,
    subscribers_create_bulk,
    subscribers_fields_set,
)
from . import parsing
from .leases import IMPORTS_LEASE_KIND, dispatch_on_commit
from .parsing import ImportCheck, ImportRow, RowRules

logger = logging.getLogger(__name__)

IMPORT_BATCH_SIZE = 500
IMPORT_ERRORS_KEPT = 1000
EMAIL_MAX_CHARS = Subscriber._meta.get_field("email").max_length
FIRST_NAME_MAX_CHARS = Subscriber._meta.get_field("first_name").max_length


# The tags app's side ----------------------------------------------------------------------


@dataclass(frozen=True)
class ImportTagger:
    # A tag name as it will be stored, or ValidationError saying what is wrong with it.
    clean: Callable[[str], str]
    # (subscriber id, tag name) pairs -> the (subscriber id, tag id) pairs that were new.
    apply: Callable[..., list[tuple[int, int]]]


_TAGGER: ImportTagger | None = None


def import_tagger_register(
    *, clean: Callable[[str], str], apply: Callable[..., list[tuple[int, int]]]
) -> None:
    global _TAGGER
    _TAGGER = ImportTagger(clean=clean, apply=apply)


def _tagger() -> ImportTagger:
    if _TAGGER is None:
        raise ValidationError("Tags cannot be imported: the tags app is not installed.")
    return _TAGGER


def _field_labels() -> dict[str, str]:
    return dict(CustomField.objects.values_list("key", "label"))


def import_mapping_guess(*, header: list[str], fields: dict[str, str] | None = None) -> list[str]:
    """A target for each column from its name (``parsing.mapping_guess``), the custom fields
    read from the database unless given."""
    return parsing.mapping_guess(
        header=header, fields=_field_labels() if fields is None else fields
    )


def import_targets(*, fields: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Every target a column can map to, as (value, label), for the mapping form."""
    return parsing.targets(fields=_field_labels() if fields is None else fields)


def import_check(*, subscriber_import: SubscriberImport) -> ImportCheck:
    """Read every line with the import's mapping: the rows to import and the lines refused
    (``parsing.lines_check``)."""
    imp = subscriber_import
    clean = _tagger().clean
    rules = RowRules(
        fields=_field_labels(),
        clean_tag=clean,
        email_max=EMAIL_MAX_CHARS,
        first_name_max=FIRST_NAME_MAX_CHARS,
        value_max=CUSTOM_FIELD_VALUE_MAX_CHARS,
    )
    return parsing.lines_check(
        text=imp.content,
        header=imp.header,
        mapping=imp.mapping,
        extra_tags=[clean(name) for name in imp.tags],
        rules=rules,
    )


# The verbs --------------------------------------------------------------------------------


@transaction.atomic
def subscriber_import_create(
    *, data: bytes, filename: str, tags: Iterable[str] = (), created_by=None
) -> SubscriberImport:
    """Keep an uploaded file as a draft import, its columns mapped by their names."""
    text = parsing.import_text_read(data=data)
    header = parsing.import_header_read(text=text)
    names = [name.strip() for name in tags if name.strip()]
    for name in names:
        try:
            _tagger().clean(name)
        except ValidationError as exc:
            raise ValidationError(f"Tag {name.strip()[:40]!r}: {exc.messages[0]}") from None
    return SubscriberImport.objects.create(
        created_by=created_by,
        filename=(filename or "upload.csv")[:255],
        content=text,
        header=header,
        mapping=import_mapping_guess(header=header),
        tags=names,
    )


@transaction.atomic
def subscriber_import_map(
    *, subscriber_import: SubscriberImport, mapping: list[str]
) -> SubscriberImport:
    """Change the column mapping of an import that has not started."""
    imp = lock_objects.subscriber_import(pk=subscriber_import.pk)
    if imp.status != ImportStatus.DRAFT:
        raise ValidationError("This import has started; its mapping can no longer change.")
    if len(mapping) != len(imp.header):
        raise ValidationError(
            f"The mapping names {len(mapping)} columns but the file has {len(imp.header)}."
        )
    imp.mapping = list(mapping)
    imp.save(update_fields=["mapping"])
    return imp


@transaction.atomic
def subscriber_import_start(
    *, subscriber_import: SubscriberImport, enqueue: bool = True
) -> SubscriberImport:
    """Check the whole file with the mapping and hand the import to a worker (``enqueue``)
    or leave it queued for the caller to run. A wrong mapping is refused: it concerns every
    line. Lines with errors are reported and skipped; the others are imported."""
    imp = lock_objects.subscriber_import(pk=subscriber_import.pk)
    if imp.status != ImportStatus.DRAFT:
        raise ValidationError("This import has already started.")
    check = import_check(subscriber_import=imp)
    header_errors = [message for line, message in check.errors if line == 1]
    if header_errors:
        raise ValidationError(header_errors)
    imp.status = ImportStatus.QUEUED
    _record_check(imp, check)
    imp.save()
    if enqueue:
        dispatch_on_commit()
    return imp


def _record_check(imp: SubscriberImport, check: ImportCheck) -> None:
    imp.rows_total, imp.rows_valid = check.rows_total, len(check.rows)
    imp.error_count = len(check.errors)
    imp.errors = [list(error) for error in check.errors[:IMPORT_ERRORS_KEPT]]


# The imports a command (or a test) may take over: there are batches left to run.
_UNFINISHED = Q(status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING])


def subscriber_import_run(
    *,
    import_id: int,
    token: int | None = None,
    on_progress: Callable[[SubscriberImport], None] | None = None,
) -> SubscriberImport:
    """Import the rows batch by batch under the import's lease. ``token`` is the lease a
    worker was sent with the import; without one the caller (the command, a test) takes the
    import over. Safe to run twice or after a crash: each batch's transaction checks, under
    the import's row lock, that the lease is still this run's and that the batch is the next
    one to do. A run whose lease was handed on (it stalled) stops there, writing nothing."""
    if token is None:
        token = lease_take_over(IMPORTS_LEASE_KIND, import_id, unfinished=_UNFINISHED)
        if token is None:
            return SubscriberImport.objects.get(pk=import_id)
    try:
        imp, check = _started(import_id=import_id, token=token)
        batches = [
            check.rows[start : start + IMPORT_BATCH_SIZE]
            for start in range(0, len(check.rows), IMPORT_BATCH_SIZE)
        ]
        for index, rows in enumerate(batches):
            if index < imp.batches_done:
                continue
            try:
                imp = _batch_import(import_id=import_id, token=token, index=index, rows=rows)
            except (SoftTimeLimitExceeded, LeaseLost):
                raise  # out of time or handed on, not a bad batch: the next holder resumes here
            except Exception as exc:  # noqa: BLE001  (any failure: the batch is reported, not lost)
                logger.exception("Import %s: batch %s failed", import_id, index + 1)
                imp = _batch_fail(import_id=import_id, token=token, index=index, rows=rows, exc=exc)
            if on_progress is not None:
                on_progress(imp)
        now = timezone.now()
        lease_finish(
            IMPORTS_LEASE_KIND,
            import_id,
            token,
            status=ImportStatus.DONE,
            finished_at=now,
            updated_at=now,
        )
    except LeaseLost:
        pass
    return SubscriberImport.objects.get(pk=import_id)


# What the first run of an import records of its check.
_CHECK_FIELDS = ["rows_total", "rows_valid", "error_count", "errors", "started_at", "updated_at"]


@transaction.atomic
def _started(*, import_id: int, token: int) -> tuple[SubscriberImport, ImportCheck]:
    imp = lease_fence(IMPORTS_LEASE_KIND, import_id, token)
    check = import_check(subscriber_import=imp)
    if imp.started_at is None:
        imp.started_at = timezone.now()
        _record_check(imp, check)
        imp.save(update_fields=_CHECK_FIELDS)
    return imp, check


def _batch_import(
    *, import_id: int, token: int, index: int, rows: list[ImportRow]
) -> SubscriberImport:
    try:
        return _batch_import_once(import_id=import_id, token=token, index=index, rows=rows)
    except IntegrityError:
        # Someone else (a form) created one of the addresses meanwhile, so the insert failed
        # and nothing was written; the second attempt finds it existing and updates it.
        return _batch_import_once(import_id=import_id, token=token, index=index, rows=rows)


# What a batch changes on the import row: saved alone, so neither the file nor the lease
# (which the heartbeat renews meanwhile) is rewritten per batch.
_BATCH_FIELDS = [
    "batches_done",
    "rows_done",
    "created_count",
    "updated_count",
    "unchanged_count",
    "tagged_count",
    "failed_count",
    "error_count",
    "errors",
    "updated_at",
]


def _import_fenced(import_id: int, token: int) -> SubscriberImport:
    """The import's row, locked, if this run still holds its lease (else ``LeaseLost``)."""
    return lease_fence(
        IMPORTS_LEASE_KIND,
        import_id,
        token,
        queryset=SubscriberImport.objects.defer("content"),
    )


@transaction.atomic
def _batch_import_once(
    *, import_id: int, token: int, index: int, rows: list[ImportRow]
) -> SubscriberImport:
    imp = _import_fenced(import_id, token)
    if imp.batches_done != index:
        return imp  # another delivery of the task did this batch
    _rows_write(rows, imp=imp)
    imp.batches_done += 1
    imp.rows_done += len(rows)
    imp.save(update_fields=_BATCH_FIELDS)
    return imp


@transaction.atomic
def _batch_fail(
    *, import_id: int, token: int, index: int, rows: list[ImportRow], exc: Exception
) -> SubscriberImport:
    imp = _import_fenced(import_id, token)
    if imp.batches_done != index:
        return imp
    message = (
        f"lines {rows[0].line}–{rows[-1].line} (batch {index + 1}) were not imported: "
        f"{exc.__class__.__name__}: {str(exc)[:200]}. Nothing from these lines was written; "
        "import the file again to retry them (existing subscribers are updated, never "
        "duplicated)."
    )
    imp.errors = sorted([*imp.errors, [rows[0].line, message]])[:IMPORT_ERRORS_KEPT]
    imp.error_count += 1
    imp.failed_count += len(rows)
    imp.batches_done += 1
    imp.rows_done += len(rows)
    imp.save(update_fields=_BATCH_FIELDS)
    return imp


def _rows_write(rows: list[ImportRow], *, imp: SubscriberImport) -> None:
    """Write one batch in a fixed number of queries and add its counts to ``imp``."""
    existing = {s.email: s for s in Subscriber.objects.filter(email__in=[r.email for r in rows])}
    created = subscribers_create_bulk(
        people=[(r.email, r.first_name) for r in rows if r.email not in existing]
    )
    by_email = {**existing, **{s.email: s for s in created}}
    renamed = []
    now = timezone.now()
    for row in rows:
        subscriber = existing.get(row.email)
        if subscriber is not None and row.first_name and row.first_name != subscriber.first_name:
            subscriber.first_name, subscriber.updated_at = row.first_name, now
            renamed.append(subscriber)
    if renamed:
        Subscriber.objects.bulk_update(renamed, ["first_name", "updated_at"])
    changed = subscribers_fields_set(
        values={by_email[r.email].pk: r.fields for r in rows if r.fields}
    )
    pairs = [(by_email[r.email].pk, name) for r in rows for name in r.tags]
    tagged = _tagger().apply(pairs=pairs, source=f"import:{imp.pk}") if pairs else []
    existing_ids = {s.pk for s in existing.values()}
    updated = ({s.pk for s in renamed} | set(changed)) & existing_ids
    imp.created_count += len(created)
    imp.updated_count += len(updated)
    imp.unchanged_count += len(existing_ids) - len(updated)
    imp.tagged_count += len({sid for sid, _tag in tagged})


def import_status(*, subscriber_import: SubscriberImport) -> dict:
    """What the progress page polls: how far, and the summary once done."""
    imp = subscriber_import
    return {
        "status": imp.status,
        "status_label": imp.get_status_display(),
        "percent": imp.percent,
        "rows_done": imp.rows_done,
        "rows_valid": imp.rows_valid,
        "created": imp.created_count,
        "updated": imp.updated_count,
        "unchanged": imp.unchanged_count,
        "tagged": imp.tagged_count,
        "not_imported": imp.failed_count,
        "lines_with_errors": imp.error_count,
    }


def import_summary(*, subscriber_import: SubscriberImport) -> str:
    """One line for the end of an import: what it did, and how many lines it could not."""
    imp = subscriber_import
    parts = [
        f"{imp.created_count} created",
        f"{imp.updated_count} updated",
        f"{imp.unchanged_count} unchanged",
        f"{imp.tagged_count} tagged",
        f"{imp.error_count} line{'s' if imp.error_count != 1 else ''} with errors",
    ]
    if imp.failed_count:
        parts.append(f"{imp.failed_count} not imported (a batch failed)")
    return ", ".join(parts) + "."
