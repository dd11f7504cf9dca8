"""The test suite's PostgreSQL: a missing server is a failure under
FOGBANK_TEST_REQUIRE_POSTGRES=1 and a skip otherwise (removing the `required` branch of
`cluster_or_stop` fails the first test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import postgres
from tests.support.databases import cluster_or_stop

OUTCOMES = (pytest.fail.Exception, pytest.skip.Exception)


def outcome_without_postgres(required: bool) -> tuple[str, str]:
    """What cluster_or_stop does when no server is installed: ("fail" or "skip", its message)."""
    try:
        cluster_or_stop(required)
    except OUTCOMES as exc:
        kind = "fail" if isinstance(exc, pytest.fail.Exception) else "skip"
        return kind, str(exc)
    return "started", ""


def test_missing_postgres_fails_when_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "PG_ROOT", tmp_path / "no-postgresql")
    kind, message = outcome_without_postgres(required=True)
    assert kind == "fail"
    assert "FOGBANK_TEST_REQUIRE_POSTGRES=1" in message


def test_missing_postgres_skips_when_not_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "PG_ROOT", tmp_path / "no-postgresql")
    kind, message = outcome_without_postgres(required=False)
    assert kind == "skip"
    assert "apt-get install postgresql" in message
