"""Updating many rows, each with its own values, in one statement.

Django's ``bulk_update`` builds a ``CASE WHEN pk = ... THEN ...`` expression per field and
row; resolving those costs milliseconds of Python per row, more than the database spends on
the update. On PostgreSQL this writes ``UPDATE ... FROM (VALUES ...)`` instead, with the
values adapted by each field as Django would; elsewhere it falls back to ``bulk_update``.
"""

from collections.abc import Sequence
from typing import Any

from django.db import connections, router
from django.db.models import Field, Model

UPDATE_BATCH_SIZE = 1000


def rows_update(objs: Sequence[Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of each object to its row (objects of one model, saved already)."""
    if not objs:
        return
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        model._default_manager.using(alias).bulk_update(objs, fields, batch_size=UPDATE_BATCH_SIZE)
        return
    meta = model._meta
    pk = _concrete(meta.pk)
    columns = [_concrete(meta.get_field(name)) for name in fields]
    quote = connection.ops.quote_name
    pk_name = quote(_column(pk))
    quoted = [quote(_column(f)) for f in columns]
    assignments = ", ".join(f"{name} = v.{name}" for name in quoted)
    names = ", ".join([pk_name, *quoted])
    casts = [f"%s::{f.cast_db_type(connection)}" for f in [pk, *columns]]
    row = "(" + ", ".join(casts) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(objs), UPDATE_BATCH_SIZE):
            batch = objs[start : start + UPDATE_BATCH_SIZE]
            params = []
            for obj in batch:
                params.append(pk.get_db_prep_save(obj.pk, connection))
                params += [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns]
            cursor.execute(
                f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
                f"FROM (VALUES {', '.join([row] * len(batch))}) AS v({names}) "
                f"WHERE t.{pk_name} = v.{pk_name}",
                params,
            )


def _concrete(field: Any) -> Field:
    # get_field() also answers reverse relations, which have no column to write.
    if not isinstance(field, Field) or field.column is None:
        raise ValueError(f"{getattr(field, 'name', field)!r} is not a column of this model")
    return field


def _column(field: Field) -> str:
    assert field.column is not None  # _concrete() let only columns through
    return field.column
