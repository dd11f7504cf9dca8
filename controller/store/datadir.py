"""The data directory's privacy, checked at every start: the directory 0700, the database,
the secrets key and the logs 0600 (their directories 0700). What fogbank's user owns and finds
too open is fixed (and logged); what another user owns is refused with the command to fix it.
The secrets key is read here, or created (0600, never overwritten) at first start."""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

from controller.config import Settings
from controller.errors import ConfigError
from controller.store.checkpoint import sqlite_path
from controller.store.sealing import KEY_BYTES, Sealer

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def prepare(settings: Settings) -> Sealer:
    """Create or check the data directory, the database file, the logs and the key file; the
    key, ready to install."""
    data_dir = settings.storage.data_dir
    make_private_dir(data_dir)
    database = sqlite_path(settings.database_url)
    if database is not None:
        make_private_dir(database.parent)
        _create_private(database)  # SQLite gives its -wal and -shm files the database's mode
        for path in (database, *(Path(f"{database}{end}") for end in SQLITE_SIDE_FILES)):
            if path.exists():
                secure(path, PRIVATE_FILE)
    make_private_dir(settings.logs_dir)
    for path in sorted(settings.logs_dir.rglob("*")):
        secure(path, PRIVATE_DIR if path.is_dir() else PRIVATE_FILE)
    return Sealer(load_or_create_key(settings.key_file))


def make_private_dir(path: Path) -> None:
    """`path` (and missing parents) as a directory; `path` itself 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    secure(path, PRIVATE_DIR)


def secure(path: Path, mode: int) -> None:
    """Nothing beyond `mode` for `path`: fixed when fogbank's user owns it, else refused."""
    found = path.stat()
    extra = stat.S_IMODE(found.st_mode) & ~mode
    if not extra:
        return
    if found.st_uid != os.geteuid():
        raise ConfigError(
            f"{path} is mode {stat.S_IMODE(found.st_mode):o} and owned by uid {found.st_uid}, "
            f"not by fogbank's user (uid {os.geteuid()}); make it private "
            f"(chmod {mode:o} {path}) or give it to fogbank's user (chown)"
        )
    os.chmod(path, stat.S_IMODE(found.st_mode) & mode)
    log.warning("%s was mode %o; fogbank made it %o", path, stat.S_IMODE(found.st_mode), mode)


def open_private(path: Path) -> int:
    """A file descriptor appending to `path`, created 0600 when new (logs)."""
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)


def load_or_create_key(path: Path) -> bytes:
    """The 32-byte key in `path` (base64), created 0600 when the file does not exist."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        except FileExistsError:
            pass  # another process made it a moment ago: read that one below
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(base64.urlsafe_b64encode(key).decode("ascii") + "\n")
            log.info("created the secrets key %s (keep a copy: without it, secrets are lost)", path)
            return key
    secure(path, PRIVATE_FILE)
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = base64.urlsafe_b64decode(text)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{path} does not hold a secrets key ({KEY_BYTES} bytes in base64)")
    return key


def _create_private(path: Path) -> None:
    """An empty file at `path` with mode 0600 unless it exists (an empty file is an empty
    SQLite database)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
