"""Updating many rows, each with its own values, in one statement.

Django's ``bulk_update`` builds a ``CASE WHEN pk = ... THEN ...`` expression per field and
row; resolving those costs milliseconds of Python per row, more than the database spends on
the update. On PostgreSQL this writes ``UPDATE ... FROM (VALUES ...)`` instead, with the
values adapted by each field as Django would; elsewhere it falls back to ``bulk_update``.
"""

from collections.abc import Sequence

from django.db import connections, router
from django.db.models import Model

UPDATE_BATCH_SIZE = 1000


def rows_update(objs: Sequence[Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of each object to its row (objects of one model, saved already)."""
    if not objs:
        return
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        model.objects.using(alias).bulk_update(objs, fields, batch_size=UPDATE_BATCH_SIZE)
        return
    meta = model._meta
    pk = meta.pk
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in columns)
    names = ", ".join(quote(f.column) for f in [pk, *columns])
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
                f"WHERE t.{quote(pk.column)} = v.{quote(pk.column)}",
                params,
            )
