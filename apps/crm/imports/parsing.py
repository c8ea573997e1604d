"""Reading a CSV import: the file's text, its header, the columns' targets, and every line
checked against a mapping. Pure: no ORM, no database; the services (``services.py``) pass in
what the models say (custom fields, length limits, how a tag name is cleaned).
"""

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from ..addresses import email_normalize

IMPORT_FILE_MAX_BYTES = 20 * 1024 * 1024
IMPORT_SAMPLE_ROWS = 3
IMPORT_SNIFF_CHARS = 64 * 1024
DELIMITERS = ",;\t"
TAG_SEPARATORS = re.compile(r"[;,]")

EMAIL, FIRST_NAME, TAGS, IGNORE = "email", "first_name", "tags", "ignore"
FIELD_PREFIX = "field:"
PLAIN_TARGETS = (EMAIL, FIRST_NAME, TAGS, IGNORE)

# Header spellings (lower case, letters and digits only) that a column's target is guessed from.
_GUESSES = {
    EMAIL: {"email", "emailaddress", "mail", "email1", "subscriberemail", "subscriber"},
    FIRST_NAME: {"firstname", "first", "name", "givenname", "fname", "forename"},
    TAGS: {"tags", "tag", "labels", "segments"},
}


@dataclass(frozen=True)
class RowRules:
    """What a line's values must satisfy, from the models: the custom fields (key -> label),
    how a tag name is cleaned (ValidationError if it cannot be a tag), and the longest email
    address, first name and field value allowed."""

    fields: dict[str, str]
    clean_tag: Callable[[str], str]
    email_max: int
    first_name_max: int
    value_max: int


# Reading the file -------------------------------------------------------------------------


def import_text_read(*, data: bytes) -> str:
    """The uploaded bytes as text, or ValidationError saying why the file cannot be read."""
    if len(data) > IMPORT_FILE_MAX_BYTES:
        raise ValidationError(
            f"The file is {len(data) / 1024 / 1024:.1f} MB; at most "
            f"{IMPORT_FILE_MAX_BYTES // 1024 // 1024} MB can be imported at once. "
            "Split it into smaller files.",
            code="import_too_big",
        )
    if b"\x00" in data:
        raise ValidationError(
            "This is not a CSV file (it holds binary data). Export the sheet as CSV "
            "(comma-separated values, UTF-8) and upload that.",
            code="import_not_csv",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"The file is not UTF-8 text (byte 0x{data[exc.start]:02x} at position "
            f'{exc.start} cannot be read). Save it as "CSV UTF-8" and upload it again.',
            code="import_not_utf8",
        ) from None
    if not text.strip():
        raise ValidationError("The file is empty.", code="import_empty")
    return text


def _delimiter(text: str) -> str:
    """The sniffed delimiter, and only that: the sniffer also guesses quoting from the first
    characters, and a guess of "no doubled quotes" would split a later "O""Brien, Pat"."""
    try:
        return csv.Sniffer().sniff(text[:IMPORT_SNIFF_CHARS], delimiters=DELIMITERS).delimiter
    except csv.Error:
        return csv.excel.delimiter


def _lines(text: str) -> Iterable[tuple[int, list[str]]]:
    """(line number of the row's first line, cells) for every row that is not blank."""
    reader = csv.reader(
        io.StringIO(text, newline=""), csv.excel, delimiter=_delimiter(text), strict=True
    )
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ValidationError(
            f"The file is not valid CSV: line {start}: {exc}. Check the quotes from there on.",
            code="import_bad_csv",
        ) from None


def import_header_read(*, text: str) -> list[str]:
    lines = iter(_lines(text))
    for _line, cells in lines:
        header = [" ".join(cell.split()) for cell in cells]
        if len(header) < 2 and _guess(header[0], fields={}) != EMAIL:
            raise ValidationError(
                "The first line should name the columns (one of them the email address), "
                f"separated by commas or semicolons; it reads {cells[0][:80]!r}.",
                code="import_no_header",
            )
        if next(lines, None) is None:
            raise ValidationError(
                "The file names its columns but has no line of data below them.",
                code="import_no_rows",
            )
        return header
    raise ValidationError("The file is empty.", code="import_empty")


# The mapping ------------------------------------------------------------------------------


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.casefold())


def _guess(column: str, *, fields: dict[str, str]) -> str:
    squashed = _squash(column)
    for target, spellings in _GUESSES.items():
        if squashed in spellings:
            return target
    for key, label in fields.items():
        if squashed in (_squash(key), _squash(label)):
            return FIELD_PREFIX + key
    return IGNORE


def mapping_guess(*, header: list[str], fields: dict[str, str]) -> list[str]:
    """A target for each column from its name: the first email-like column is the email, and
    so on; a column that matches no target (or one already taken) is ignored. ``fields``:
    the custom fields, key -> label."""
    mapping, taken = [], set()
    for column in header:
        target = _guess(column, fields=fields)
        if target in taken:
            target = IGNORE
        if target != IGNORE:
            taken.add(target)
        mapping.append(target)
    return mapping


def targets(*, fields: dict[str, str]) -> list[tuple[str, str]]:
    """Every target a column can map to, as (value, label), for the mapping form."""
    return [
        (EMAIL, "Email address"),
        (FIRST_NAME, "First name"),
        (TAGS, "Tags (separated by ; or ,)"),
        *((FIELD_PREFIX + key, f"Custom field: {label}") for key, label in fields.items()),
        (IGNORE, "Ignore this column"),
    ]


def _mapping_errors(*, header: list[str], mapping: list[str], fields: dict[str, str]) -> list:
    """What is wrong with the mapping, as (line 1, message) errors: it concerns the header."""
    if len(mapping) != len(header):
        return [
            (1, f"line 1: the mapping names {len(mapping)} columns; the file has {len(header)}.")
        ]
    errors = []
    for column, target in zip(header, mapping, strict=True):
        if target.startswith(FIELD_PREFIX) and target[len(FIELD_PREFIX) :] not in fields:
            errors.append(
                f"column {column!r} is mapped to the custom field "
                f"{target[len(FIELD_PREFIX) :]!r}, which does not exist. Create it under "
                "Custom fields, or map the column to another target or to Ignore."
            )
        elif not target.startswith(FIELD_PREFIX) and target not in PLAIN_TARGETS:
            errors.append(f"column {column!r} is mapped to {target!r}, which is not a target.")
    for target, what in ((EMAIL, "the email address"), (FIRST_NAME, "the first name")):
        if mapping.count(target) > 1:
            errors.append(f"only one column can hold {what}; {mapping.count(target)} do.")
    if EMAIL not in mapping:
        errors.append("no column is mapped to the email address. Map one to Email address.")
    return [(1, f"line 1: {message}") for message in errors]


# Reading the rows -------------------------------------------------------------------------


@dataclass
class ImportRow:
    line: int
    email: str
    first_name: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


@dataclass
class ImportCheck:
    """The rows a mapping would import, and every line that would not be, with why."""

    rows: list[ImportRow]
    errors: list[tuple[int, str]]
    rows_total: int
    samples: list[list[str]]


def _too_long(what: str, value: str, limit: int) -> list[str]:
    if len(value) > limit:
        return [f"{what} is {len(value)} characters long; at most {limit} are allowed"]
    return []


def _email_read(row: ImportRow, column: str, value: str, rules: RowRules) -> list[str]:
    try:
        row.email = email_normalize(value)
    except ValidationError as exc:
        return [exc.messages[0].rstrip(".").replace("An email", "an email")]
    return _too_long("the email address", row.email, rules.email_max)


def _first_name_read(row: ImportRow, column: str, value: str, rules: RowRules) -> list[str]:
    row.first_name = value
    return _too_long("the first name", value, rules.first_name_max)


def _tags_read(row: ImportRow, column: str, value: str, rules: RowRules) -> list[str]:
    problems = []
    for name in TAG_SEPARATORS.split(value):
        if not name.strip():
            continue
        try:
            row.tags.append(rules.clean_tag(name))
        except ValidationError as exc:
            problems.append(f"tag {name.strip()[:40]!r}: {exc.messages[0].rstrip('.')}")
    return problems


# Who reads a cell, by the column's target (a custom field's is its own, by prefix).
_CELL_READERS = {EMAIL: _email_read, FIRST_NAME: _first_name_read, TAGS: _tags_read}


def _cell_read(row: ImportRow, column: str, target: str, value: str, rules: RowRules) -> list[str]:
    """Read one cell into ``row``: the problems it has. Empty cells are skipped, except the
    email's (a row needs one)."""
    if target == EMAIL or (value and target in _CELL_READERS):
        return _CELL_READERS[target](row, column, value, rules)
    if value and target.startswith(FIELD_PREFIX):
        row.fields[target[len(FIELD_PREFIX) :]] = value
        return _too_long(f"the value in column {column!r}", value, rules.value_max)
    return []


def _row_read(
    line: int,
    cells: list[str],
    *,
    header: list[str],
    mapping: list[str],
    extra_tags: list[str],
    rules: RowRules,
) -> tuple[ImportRow | None, list[str]]:
    problems = []
    extra = [cell for cell in cells[len(header) :] if cell.strip()]
    if extra:
        problems.append(
            f"it has {len(cells)} values but the header names {len(header)} columns; "
            f"{extra[0][:40]!r} belongs to no field"
        )
    row = ImportRow(line=line, email="", tags=list(extra_tags))
    for column, target, raw in zip(header, mapping, cells, strict=False):
        problems += _cell_read(row, column, target, raw.strip(), rules)
    return (None if problems else row), problems


def lines_check(
    *,
    text: str,
    header: list[str],
    mapping: list[str],
    extra_tags: list[str],
    rules: RowRules,
) -> ImportCheck:
    """Read every line of ``text`` with the mapping: the rows to import and the lines
    refused. ``extra_tags``: tag names (cleaned) added to every row.

    Each refused line is reported once, by its line number in the file, with every reason.
    Only the first of several lines with the same address is imported."""
    errors = _mapping_errors(header=header, mapping=mapping, fields=rules.fields)
    mapping_ok = not errors
    rows, samples, first_line_of, total = [], [], {}, 0
    lines = iter(_lines(text))
    next(lines, None)  # the header
    for line, cells in lines:
        total += 1
        if len(samples) < IMPORT_SAMPLE_ROWS:
            samples.append(cells)
        if not mapping_ok:
            continue  # no line can be read with a wrong mapping
        row, problems = _row_read(
            line, cells, header=header, mapping=mapping, extra_tags=extra_tags, rules=rules
        )
        if row is not None and row.email in first_line_of:
            problems.append(
                f"{row.email} is already on line {first_line_of[row.email]}; "
                "only that line is imported"
            )
            row = None
        if row is None:
            errors.append((line, f"line {line}: " + "; ".join(problems) + "."))
            continue
        first_line_of[row.email] = line
        rows.append(row)
    return ImportCheck(rows=rows, errors=errors, rows_total=total, samples=samples)
