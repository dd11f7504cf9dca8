"""Copies of the session's migrated SQLite template (the `sqlite_template` fixture)."""

from __future__ import annotations

import shutil
from pathlib import Path


def migrated_sqlite(template: Path, path: Path) -> Path:
    """`path`, a copy of the migrated template (its directory made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)
    return path
