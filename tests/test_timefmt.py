"""Timestamps as the seed writes them, whatever zone object a time carries: the database's
ZoneInfo("UTC"), datetime.UTC, another offset (converted), or none (taken as UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from tortoise.fields import DatetimeField

from api.rawrows import time_text
from controller.store.timefmt import iso, iso_z

WALL = datetime(2025, 1, 15, 10, 30, 15, 987654)


@pytest.mark.parametrize(
    ("moment", "written"),
    [
        (WALL.replace(tzinfo=UTC), "2025-01-15T10:30:15Z"),
        (WALL.replace(tzinfo=ZoneInfo("UTC")), "2025-01-15T10:30:15Z"),
        (WALL, "2025-01-15T10:30:15Z"),
        (WALL.replace(tzinfo=timezone(timedelta(hours=2))), "2025-01-15T08:30:15Z"),
        (WALL.replace(tzinfo=ZoneInfo("America/New_York")), "2025-01-15T15:30:15Z"),
        (datetime(2025, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), "2024-12-31T23:30:00Z"),
        (datetime(5, 3, 1, tzinfo=UTC), "0005-03-01T00:00:00Z"),
    ],
)
def test_iso_z(moment: datetime, written: str) -> None:
    assert iso_z(moment) == written


def test_missing_time_is_none() -> None:
    assert iso(None) is None


@pytest.mark.parametrize(
    "stored",
    [
        "2025-01-15 10:30:15.987654+00:00",
        "2025-01-15 10:30:15+00:00",
        "2025-01-15T12:30:15.5+02:00",
        "2025-01-15 10:30:15",
        "2025-01-15T10:30:15Z",
    ],
)
def test_a_stored_time_reads_as_the_orm_reads_it(stored: str) -> None:
    """api/rawrows.py's shortcut for Tortoise's own text, and its fallback for any other."""
    field = DatetimeField()
    assert time_text(stored, field) == iso(field.to_python_value(stored))
    assert time_text(None, field) is None
