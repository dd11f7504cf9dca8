"""Deployment log lines in the shared database (PostgreSQL), for instances that did not build
the deployment: written with their seq by the instance that did, read a bounded page at a time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from controller.events.deployment_logs import DeploymentLogs
from controller.store.datadir import PRIVATE_DIR, open_private

# Every instance listens on this channel; a payload says what to republish (see relay.py).
CHANNEL = "fogbank_events"
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more.
MAX_PAYLOAD_BYTES = 7900
CUT = "… [cut]"
PAGE_LINES = 1000  # lines read per query: a long log is never held whole

# One statement for a batch. A line whose (deployment, seq) another instance wrote first (two
# writers of one deployment's log) or whose deployment is gone is skipped, not retried forever.
INSERT_LINES = """
WITH written AS (
  INSERT INTO deployment_log_line (deployment_id, seq, line)
  SELECT l.d, l.s, l.t FROM unnest($1::int[], $2::int[], $3::text[]) AS l(d, s, t)
  WHERE EXISTS (SELECT 1 FROM deployment WHERE id = l.d)
  ON CONFLICT (deployment_id, seq) DO NOTHING
  RETURNING 1
)
SELECT count(*) AS n FROM written
"""
SELECT_AFTER = (
    "SELECT seq, line FROM deployment_log_line WHERE deployment_id = $1 AND seq > $2"
    " ORDER BY seq LIMIT $3"
)
SELECT_RANGE = (
    "SELECT seq, line FROM deployment_log_line WHERE deployment_id = $1 AND seq BETWEEN $2 AND $3"
    " ORDER BY seq"
)
NOTIFY = "SELECT pg_notify($1, $2)"

Line = tuple[int, str]


def is_postgres_url(database_url: str) -> bool:
    """True when the database may be shared by several instances (so logs must be shared)."""
    scheme = database_url.split("://", 1)[0].lower()
    return scheme in ("postgres", "postgresql", "asyncpg", "psycopg")


async def write(
    connection: BaseDBAsyncClient, rows: Sequence[tuple[int, int, str]], notices: Sequence[str]
) -> int:
    """Insert (deployment id, seq, line) rows and send each notice, in that order, on the
    caller's transaction: a watcher told of lines finds them committed. How many rows were
    skipped (see INSERT_LINES)."""
    written = len(rows)
    if rows:
        columns = [[row[0] for row in rows], [row[1] for row in rows], [row[2] for row in rows]]
        result = await connection.execute_query_dict(INSERT_LINES, columns)
        written = int(result[0]["n"])
    for payload in notices:
        await connection.execute_query(NOTIFY, [CHANNEL, payload])
    return len(rows) - written


async def read_range(deployment_id: int, first: int, last: int) -> list[Line]:
    """The lines with first <= seq <= last (one notice's worth)."""
    rows = await connections.get("default").execute_query_dict(
        SELECT_RANGE, [deployment_id, first, last]
    )
    return [(int(row["seq"]), str(row["line"])) for row in rows]


async def pages(
    deployment_id: int, after: int = 0, page_lines: int = PAGE_LINES
) -> AsyncIterator[list[Line]]:
    """Every line with seq > after, `page_lines` at a time."""
    while True:
        rows = await connections.get("default").execute_query_dict(
            SELECT_AFTER, [deployment_id, after, page_lines]
        )
        if not rows:
            return
        page = [(int(row["seq"]), str(row["line"])) for row in rows]
        yield page
        after = page[-1][0]
        if len(page) < page_lines:
            return


def fitted(payload: dict[str, Any]) -> str:
    """`payload` as JSON under MAX_PAYLOAD_BYTES: a too long event (a long error message) has
    its longest strings cut, marked as cut; the database keeps the whole message. The event's
    own data is not touched (this instance's watchers have it whole)."""
    text = json.dumps(payload)
    if len(text.encode()) < MAX_PAYLOAD_BYTES:
        return text
    frame: dict[str, Any] = payload["e"]
    data: dict[str, Any] = dict(frame["data"])
    frame["data"] = data
    for _ in range(len(data)):
        texts = [key for key, value in data.items() if isinstance(value, str) and value]
        if not texts:
            break
        key = max(texts, key=lambda k: len(data[k]))
        excess = len(text.encode()) - MAX_PAYLOAD_BYTES + len(CUT.encode()) + 16
        data[key] = data[key][: max(0, len(data[key]) - excess)] + CUT
        text = json.dumps(payload)
        if len(text.encode()) < MAX_PAYLOAD_BYTES:
            return text
    frame["data"] = {}  # nothing left to cut: the watcher reads the row when it re-checks
    return json.dumps(payload)


class SharedDeploymentLogs(DeploymentLogs):
    """Log files of an instance that shares its database: a log another instance wrote is
    copied from the table into this instance's file before this one continues it, so its seqs
    go on where the other's stopped and this instance reads the whole log from its file."""

    async def adopt(self, deployment_id: int) -> None:
        path = self.path(deployment_id)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        async for page in pages(deployment_id):
            await asyncio.to_thread(_append_lines, path, [line for _, line in page])


def _append_lines(path: Path, lines: list[str]) -> None:
    with open(open_private(path), "a", encoding="utf-8") as handle:
        handle.write("".join(f"{line}\n" for line in lines))
