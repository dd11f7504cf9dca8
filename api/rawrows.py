"""Rows of a model read as SQLite hands them over, typed as the ORM's `.values()` would give them
to the answer models: booleans from 0/1, times as the seed writes them, JSON columns decoded;
every other column kind (text, integers, floats, text enums) is the same value already. The ORM's own path builds
the query and parses every value each time; these lists are read once per request."""

from __future__ import annotations

import json
from typing import Any

from tortoise import connections
from tortoise.fields import (
    BooleanField,
    CharField,
    DatetimeField,
    Field,
    FloatField,
    IntField,
    JSONField,
    TextField,
)
from tortoise.models import Model

from controller.store.timefmt import iso_z

Row = dict[str, Any]
# Column kinds whose SQLite value is what the answer models dump (a text enum is its text).
AS_STORED = (CharField, TextField, IntField, FloatField)


def time_text(value: Any, field: Field[Any]) -> str | None:
    """A stored time as the seed writes it, `2025-01-15T10:30:15Z`."""
    if value is None:
        return None
    # Tortoise stores str(datetime) of an aware UTC time: "YYYY-MM-DD HH:MM:SS[.ffffff]+00:00".
    if isinstance(value, str) and len(value) in (25, 32) and value.endswith("+00:00"):
        return f"{value[:10]}T{value[11:19]}Z"
    return iso_z(field.to_python_value(value))  # any other shape: as the ORM reads it


class Columns:
    """`names` of `model`: the SELECT list and how to type each value, worked out on first use
    (Tortoise adds a foreign key's `<name>_id` column when the database opens). A field of a
    kind not listed here fails rather than answer different bytes."""

    def __init__(self, model: type[Model], names: tuple[str, ...]) -> None:
        self.model = model
        self.names = names
        self.table = model._meta.db_table
        self._select = ""
        self.bools: list[str] = []
        self.times: list[tuple[str, Field[Any]]] = []
        self.jsons: list[str] = []

    @property
    def select(self) -> str:
        if not self._select:
            self._select = self._prepare()
        return self._select

    def _prepare(self) -> str:
        meta = self.model._meta
        columns = []
        for name in self.names:
            field = meta.fields_map[name]
            if isinstance(field, BooleanField):
                self.bools.append(name)
            elif isinstance(field, DatetimeField):
                self.times.append((name, field))
            elif isinstance(field, JSONField):
                self.jsons.append(name)
            elif not isinstance(field, AS_STORED):
                raise TypeError(f"{self.model.__name__}.{name}: no plain reading for {field!r}")
            columns.append(f'"{meta.fields_db_projection[name]}" AS "{name}"')
        return ", ".join(columns)

    def typed(self, row: Row) -> Row:
        for name in self.bools:
            if row[name] is not None:
                row[name] = bool(row[name])
        for name, field in self.times:
            row[name] = time_text(row[name], field)
        for name in self.jsons:
            if isinstance(row[name], str):  # Tortoise writes JSON text
                row[name] = json.loads(row[name])
        return row

    async def read(self, sql: str, params: list[Any]) -> list[Row]:
        """The rows of `sql` (written around `self.select`), typed."""
        rows = await connections.get("default").execute_query_dict(sql, params)
        return [self.typed(row) for row in rows]
