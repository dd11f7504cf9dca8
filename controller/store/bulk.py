"""Many-row inserts without a model instance per row, for the webhook burst path.

`Model.bulk_create` builds a full model instance for every row (its __init__ sets and
validates each of a deployment's 22 fields) before converting each field again for the
database. A batch of 50 webhook deliveries inserts 100 rows, and that per-row work was the
largest part of a batch's CPU. `insert_rows` converts the values every row shares once, and per
row only the fields that differ, each through the field's own `to_db_value` (so Tortoise's
validation and conversion still apply), then writes them all with one `execute_many` of
Tortoise's own parameterised INSERT for the model: one statement for any database backend.
It runs on the current connection, so inside `in_transaction()` it is part of the transaction.
The statement and its column order come from the model's executor (`regular_columns`,
`insert_query`), as in `bulk_create`; tests/test_rowinsert.py compares the rows with what
`Model.create` writes, so a Tortoise upgrade that changes them fails there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tortoise import Model, timezone
from tortoise.exceptions import ValidationError
from tortoise.fields import DatetimeField, Field


async def insert_rows(model: type[Model], rows: Sequence[Mapping[str, Any]], **shared: Any) -> None:
    """Insert one row per mapping of field name -> value. A field a row leaves out takes its
    value from `shared`, else the field's default; auto_now(_add) timestamps are now. Raises
    ValidationError, before anything is written, for a required field nobody gave or a value
    its field refuses (a string over max_length...)."""
    if not rows:
        return
    db = model._meta.db
    executor = db.executor_class(model=model, db=db)
    columns: list[str] = executor.regular_columns
    fields: dict[str, Field[Any]] = model._meta.fields_map
    varying = {name for row in rows for name in row}
    unknown = varying - set(columns)
    if unknown:
        raise ValidationError(f"{model.__name__} has no insertable field {sorted(unknown)}")
    now = timezone.now()

    def fallback(name: str) -> Any:  # looked up only for a field a row leaves out
        return shared[name] if name in shared else _default(fields[name], now)

    template: list[Any] = []
    for name in columns:
        if name in varying:
            template.append(None)  # filled per row
            continue
        template.append(fields[name].to_db_value(fallback(name), model))
    per_row = [(index, name, fields[name]) for index, name in enumerate(columns) if name in varying]
    values: list[list[Any]] = []
    for row in rows:
        line = list(template)
        for index, name, field in per_row:
            value = row[name] if name in row else fallback(name)
            line[index] = field.to_db_value(value, model)
        values.append(line)
    await db.execute_many(executor.insert_query, values)


def _default(field: Field[Any], now: Any) -> Any:
    if isinstance(field, DatetimeField) and (field.auto_now or field.auto_now_add):
        return now
    if field.has_db_field and field.default is None and not field.null:
        raise ValidationError(f"{field.model_field_name} is required")
    return field.default() if callable(field.default) else field.default
