"""A throwaway PostgreSQL cluster from Debian's `postgresql` package for tests and benches:
`initdb` + `pg_ctl` in a temp dir, listening on a free loopback port (and a unix socket in that
dir), trust authentication for loopback only, one database per test, stopped at the end.
PostgreSQL refuses to run as root, so under root the server runs as the package's `postgres`
user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port

PG_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "fogbank"
START_TIMEOUT_SECONDS = 60
# A test cluster: durability traded for speed (nothing survives the run anyway).
SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
)


class PostgresMissing(RuntimeError):
    """Debian's postgresql package is not installed (scripts/setup-host installs it)."""


def bin_dir() -> Path:
    """The newest installed server's bin directory (postgresql-NN puts it under PG_ROOT)."""
    found = sorted(
        (path for path in PG_ROOT.glob("*/bin") if (path / "initdb").exists()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if not found:
        raise PostgresMissing(f"no PostgreSQL server under {PG_ROOT}: apt-get install postgresql")
    return found[-1]


@dataclass
class PostgresCluster:
    """One running cluster; `create_database` hands each test a fresh database of its own."""

    root: Path
    port: int
    binaries: Path
    databases: list[str] = field(default_factory=list)
    template: str = "template1"  # the database tests copy: set to a migrated one at start

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str = "template1") -> str:
        """A new database copied from `template` (template1: empty); its `postgres://` URL."""
        name = f"fb_{uuid.uuid4().hex[:16]}"
        self._psql("postgres", f"CREATE DATABASE {name} TEMPLATE {template}")
        self.databases.append(name)
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self._psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.databases.remove(name)

    def _psql(self, database: str, sql: str) -> None:
        command = [str(self.binaries / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        command += ["-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", database]
        subprocess.run([*command, "-c", sql], check=True, capture_output=True, timeout=60)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its files."""
        try:
            _run_as_owner(
                [str(self.binaries / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast"],
                self.root,
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> PostgresCluster:
    """initdb a new cluster in a temp dir and start it on a free loopback port."""
    binaries = bin_dir()
    # Not under pytest's tmp dirs: those are private to root, and the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="fogbank-pg-"))
    _hand_over(root)
    cluster = PostgresCluster(root=root, port=free_port(), binaries=binaries)
    try:
        _run_as_owner(
            [
                str(binaries / "initdb"),
                "-D",
                str(cluster.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            root,
        )
        options = (
            f"{SERVER_OPTIONS} -c listen_addresses=127.0.0.1 -c port={cluster.port}"
            f" -c unix_socket_directories={root}"
        )
        _run_as_owner(
            [
                str(binaries / "pg_ctl"),
                "start",
                "-D",
                str(cluster.data_dir),
                "-l",
                str(root / "server.log"),
                "-w",
                "-t",
                str(START_TIMEOUT_SECONDS),
                "-o",
                options,
            ],
            root,
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster


def _hand_over(root: Path) -> None:
    """Under root, give the cluster's dir to the `postgres` user (the server refuses root)."""
    if os.geteuid() != 0:
        return
    owner = pwd.getpwnam("postgres")
    os.chown(root, owner.pw_uid, owner.pw_gid)
    root.chmod(0o700)


def _run_as_owner(command: Sequence[str], root: Path) -> None:
    """Run a server command as the owner of the cluster's dir; its output goes to the error."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    done = subprocess.run(
        [*prefix, *command], capture_output=True, text=True, cwd=root, timeout=120, check=False
    )
    if done.returncode != 0:
        log = root / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(
            f"{command[0]} failed ({done.returncode}): {done.stderr.strip()} {tail}".strip()
        )
