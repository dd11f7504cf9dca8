"""Two `fogbank serve` processes on one PostgreSQL database, as tests and bench/ run them: each
with its own data_dir, edge and instance name, sharing the database and the sealing key, with
short leases so a takeover happens within seconds."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information

from tests.support.server import (
    Sections,
    Server,
    TomlValue,
    configured_port,
    prepare_server,
    write_config,
)

LEASE_SECONDS = 3.0
HEARTBEAT_SECONDS = 1.0


def instance_sections(
    name: str, database_url: str, key_file: Path, extra: Sections | None = None
) -> dict[str, dict[str, TomlValue]]:
    sections: dict[str, dict[str, TomlValue]] = {
        "database": {"url": database_url},
        "security": {"key_file": str(key_file)},
        "cluster": {
            "instance": name,
            "lease_seconds": LEASE_SECONDS,
            "heartbeat_seconds": HEARTBEAT_SECONDS,
        },
    }
    for section, values in (extra or {}).items():
        sections.setdefault(section, {}).update(values)
    return sections


def prepare_instances(
    root: Path,
    database_url: str,
    extra: Sections | None = None,
    names: tuple[str, ...] = ("a", "b"),
) -> list[Server]:
    """One Server per name (not started), under root/<name>; the first creates the admin user
    and the token every one of them uses."""
    key_file = root / "shared.key"
    servers: list[Server] = []
    for name in names:
        directory = root / name
        directory.mkdir(parents=True, exist_ok=True)
        sections = instance_sections(name, database_url, key_file, extra)
        if not servers:
            servers.append(prepare_server(directory, sections))
            continue
        config = write_config(directory, sections)
        log = directory / "server.log"
        servers.append(Server(config, configured_port(config), log, token=servers[0].token))
    return servers


def query(database_url: str, sql: str, *args: object) -> list[Mapping[str, Any]]:
    """Rows of one statement, read straight from the database (what the API does not show:
    which instance ran a deployment, who holds a lease); callable from sync tests."""

    async def run() -> list[Mapping[str, Any]]:
        connection = await asyncpg.connect(database_url)
        try:
            return [dict(row) for row in await connection.fetch(sql, *args)]
        finally:
            await connection.close()

    return asyncio.run(run())
