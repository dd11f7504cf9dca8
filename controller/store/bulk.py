"""Many-row inserts without a model instance per row, for the webhook burst path.

`insert_rows` converts the values every row shares once, and per row only the fields that
differ, each through the field's own `to_db_value` (Tortoise's validation and conversion still
apply), then writes them with one `execute_many` of Tortoise's own INSERT for the model, on the
current connection (inside `in_transaction()` it is part of the transaction). Why not
`bulk_create`: BENCHMARKS.md; tests/test_rowinsert.py compares the rows with `Model.create`'s.
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
