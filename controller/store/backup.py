"""`fogbank backup PATH` and `fogbank restore PATH`: one archive (tar.gz, mode 0600: it holds
secrets) with everything a restore needs: the SQLite database copied with SQLite's online backup
API (one consistent snapshot, taken while fogbank keeps writing; a plain copy of a WAL database
can lose recent commits), the deployment and app event logs, the secrets key file when there is
one, and a manifest (row counts per table, size and SHA-256 of every file).

Not in it: git mirrors (fetched again from the remotes) and Docker images (rebuilt by drift
repair from the commits the database names). Blocking: run both in a thread."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from controller.config import Settings
from controller.errors import ConfigError, FogbankError
from controller.store.checkpoint import sqlite_path
from controller.store.timefmt import iso_now

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "fogbank.db"
LOGS = "logs"
KEY_FILE = "secrets.key"
BUSY_TIMEOUT_SECONDS = 30.0


class BackupError(FogbankError):
    code = "BACKUP_FAILED"


@dataclass(frozen=True)
class Report:
    path: Path
    rows: dict[str, int]
    files: int


def backup(settings: Settings, target: Path) -> Report:
    """Write the archive to `target` (replaced atomically: a reader never sees half of it)."""
    database = _database(settings)
    if not database.is_file():
        raise BackupError(f"no database at {database}: nothing to back up")
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fogbank-backup-", dir=target.parent) as staging:
        root = Path(staging)
        os.chmod(root, 0o700)
        _snapshot(database, root / DATABASE)
        rows = _check(root / DATABASE)
        if settings.logs_dir.is_dir():
            shutil.copytree(settings.logs_dir, root / LOGS)
        key = _key_file(settings)
        if key.is_file():  # without it, the sealed secrets in the database cannot be read
            shutil.copy2(key, root / KEY_FILE)
        files = sorted(p for p in root.rglob("*") if p.is_file())
        manifest = {
            "format": FORMAT,
            "fogbank": _version(),
            "created_at": iso_now(),
            "rows": rows,
            "files": {p.relative_to(root).as_posix(): _digest(p) for p in files},
        }
        (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        staged = target.with_name(target.name + ".tmp")
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
            archive.add(root / MANIFEST, MANIFEST)
            for path in files:
                archive.add(path, path.relative_to(root).as_posix())
        staged.replace(target)
    return Report(target, rows, len(files))


def restore(settings: Settings, source: Path, *, force: bool = False) -> Report:
    """Put an archive's database, logs and key file in place. Refuses to overwrite a database
    unless `force` (fogbank must be stopped: its open connection would keep the old one)."""
    database = _database(settings)
    if database.exists() and not force:
        raise BackupError(
            f"{database} exists; stop fogbank and pass --force to replace it with the backup"
        )
    data_dir = settings.storage.data_dir
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fogbank-restore-", dir=data_dir) as staging:
        root = Path(staging)
        manifest = _extract(source, root)
        rows = _check(root / DATABASE)
        if rows != manifest.get("rows"):
            raise BackupError("the database in the archive does not match its manifest")
        for suffix in ("-wal", "-shm"):  # the old database's, never to be replayed onto the new
            database.with_name(database.name + suffix).unlink(missing_ok=True)
        os.replace(root / DATABASE, database)
        os.chmod(database, 0o600)
        if (root / LOGS).is_dir():
            shutil.copytree(root / LOGS, settings.logs_dir, dirs_exist_ok=True)
        key = _key_file(settings)
        if (root / KEY_FILE).is_file():  # the key the restored database's secrets need
            key.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copy2(root / KEY_FILE, key)
            os.chmod(key, 0o600)
        count = len(manifest["files"])
    return Report(database, rows, count)


def _database(settings: Settings) -> Path:
    database = sqlite_path(settings.database_url)
    if database is None:
        raise ConfigError("backup covers the SQLite database only; for PostgreSQL use pg_dump")
    return database


def _snapshot(source: Path, copy: Path) -> None:
    src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_SECONDS)
    dst = sqlite3.connect(copy)
    try:
        src.backup(dst)  # all pages in one step: one read transaction, one consistent snapshot
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    finally:
        dst.close()
        src.close()


def _check(database: Path) -> dict[str, int]:
    """Rows per table, after SQLite's own integrity check."""
    connection = sqlite3.connect(database)
    try:
        (verdict,) = connection.execute("PRAGMA integrity_check").fetchone()
        if verdict != "ok":
            raise BackupError(f"the database copy is damaged: {verdict}")
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " ORDER BY name"
            )
        ]
        # The names come from sqlite_master itself, quoted: no user input reaches this SQL.
        return {
            name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # noqa: S608
            for name in tables
        }
    finally:
        connection.close()


def _extract(source: Path, root: Path) -> dict[str, Any]:
    """Unpack only what a backup holds (regular files at the expected names), then check each
    against the manifest."""
    try:
        with tarfile.open(source, mode="r:gz") as archive:
            members = archive.getmembers()
            for member in members:
                name = PurePosixPath(member.name)
                top = name.parts[0] if name.parts else ""
                allowed = top in (MANIFEST, DATABASE, KEY_FILE) or (
                    top == LOGS and len(name.parts) > 1
                )
                if not member.isfile() or name.is_absolute() or ".." in name.parts or not allowed:
                    raise BackupError(f"unexpected entry {member.name!r} in {source}")
            archive.extractall(root, members=members, filter="data")
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        raise BackupError(f"cannot read the backup {source}: {exc}") from exc
    try:
        manifest: dict[str, Any] = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} has no readable manifest") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source} is a backup format fogbank does not know")
    for name, expected in manifest.get("files", {}).items():
        path = root / name
        if not path.is_file() or _digest(path) != expected:
            raise BackupError(f"{name} in {source} is missing or damaged")
    if not (root / DATABASE).is_file():
        raise BackupError(f"{source} holds no database")
    return manifest


def _digest(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _key_file(settings: Settings) -> Path:
    """The key that seals the database's secrets (security.key_file)."""
    return settings.key_file


def _version() -> str:
    try:
        return metadata.version("fogbank")
    except metadata.PackageNotFoundError:
        return "unknown"
