"""Timestamps as the seed writes them: ISO-8601 UTC with a trailing Z."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

NO_OFFSET = timedelta(0)


def iso(moment: datetime | None) -> str | None:
    """`2025-01-15T10:30:00Z`, or None for a missing time."""
    if moment is None:
        return None
    return iso_z(moment)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso_now() -> str:
    return iso_z(datetime.now(UTC))


def iso_z(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.utcoffset() != NO_OFFSET:
        moment = moment.astimezone(UTC)
    # A UTC time (any zone object at offset 0, as the database's ZoneInfo("UTC")) ends +00:00.
    return moment.isoformat(timespec="seconds")[:-6] + "Z"


def iso_ms_now() -> str:
    """Now with milliseconds, `2025-01-15T10:30:00.123Z`: stage timings need finer than seconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
