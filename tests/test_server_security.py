"""Login and start-up protections of a real `fogbank serve` process over loopback HTTP: the login
flood answered 429 after its budget, oversized usernames refused before the limiter, exactly one
first admin from concurrent signups, a wrong Host refused, the data directory's modes, a user
disabled from the command line losing its open WebSocket, and no plaintext secret in the
database file."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.login_flood import failed_logins
from tests.support.server import Server, cli, configured_port, prepare_server, write_config

pytestmark = pytest.mark.slow

PER_ADDRESS = 20  # auth.login_failures_per_address_per_minute's default
MEGABYTE_NAME = "u" * 1_000_000
TOKEN = "ghp_SealedT0kenNeverInTheFile"
ENV_SECRET = "env-s3cret-never-in-the-file"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    found = prepare_server(tmp_path)
    found.start()
    try:
        yield found
    finally:
        found.stop_quietly()


async def test_a_login_flood_meets_429_and_megabyte_usernames_never_reach_the_limiter(
    server: Server,
) -> None:
    """30 usernames of 1 MB: 422, and the address's budget is untouched; then 120 failed logins
    with rotating usernames at concurrency 24: exactly the budget (20) get 401, the other 100 get
    429 without a hash. Protection: the limiter per address, recording before verifying (keyed
    on username+address and recording after the await, all 120 were 401)."""
    big = await failed_logins(server.base, [MEGABYTE_NAME] * 30, concurrency=6)
    assert big == Counter({422: 30})
    flood = await failed_logins(server.base, [f"user{n}" for n in range(120)], concurrency=24)
    print(f"\n120 failed logins at concurrency 24: {dict(flood)}")
    assert flood == Counter({401: PER_ADDRESS, 429: 120 - PER_ADDRESS})
    async with httpx.AsyncClient(base_url=server.base, timeout=10) as client:
        answer = await client.post("/api/auth/login", json={"username": "admin", "password": "x"})
    assert answer.status_code == 429 and answer.json()["error"] == "RATE_LIMITED"


async def test_one_first_admin_from_concurrent_signups(tmp_path: Path) -> None:
    """Ten signups at once on an empty database: exactly one 201, nine 403 SIGNUP_CLOSED, one
    user. A text/plain signup is 415, a foreign Host header 421, a cross-site login 403.
    Protection: the signup transaction (its claim row, and its check for users; with neither,
    all ten signups passed the first check while hashing and all ten became admins)."""
    config = write_config(tmp_path)
    fresh = Server(config, configured_port(config), tmp_path / "server.log")
    fresh.start()
    try:
        async with httpx.AsyncClient(base_url=fresh.base, timeout=60) as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        "/api/auth/signup",
                        json={"username": f"admin{n}", "password": "long enough"},
                    )
                    for n in range(10)
                )
            )
            plain = await client.post(
                "/api/auth/signup",
                content=b'{"username": "page", "password": "long enough"}',
                headers={"Content-Type": "text/plain"},
            )
            rebound = await client.get("/api/health", headers={"Host": "rebound.example:8080"})
            cross_site = await client.post(
                "/api/auth/login",
                json={"username": "admin0", "password": "long enough"},
                headers={"Origin": "https://evil.example"},
            )
    finally:
        fresh.stop_quietly()
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == Counter({201: 1, 403: 9})
    assert {a.json()["error"] for a in answers if a.status_code == 403} == {"SIGNUP_CLOSED"}
    assert plain.status_code == 415
    assert rebound.status_code == 421 and rebound.json()["error"] == "HOST_NOT_ALLOWED"
    assert cross_site.status_code == 403 and cross_site.json()["error"] == "CSRF_REJECTED"
    rows = sqlite3.connect(tmp_path / "data" / "fogbank.db").execute("SELECT count(*) FROM user")
    assert rows.fetchone() == (1,)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_directory_is_made_private_at_start(tmp_path: Path) -> None:
    """A data directory 0755 with a database and a log 0644 (as an older fogbank or a copy left
    them) is 0700 / 0600 after start. Protection: datadir.prepare (without it the modes stay)."""
    server = prepare_server(tmp_path)
    data = tmp_path / "data"
    log = data / "logs" / "deployments" / "1.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("old line\n")
    for path, loose in ((data, 0o755), (data / "fogbank.db", 0o644), (log, 0o644)):
        os.chmod(path, loose)
    server.start()
    try:
        modes = {p.name: mode(p) for p in (data, data / "fogbank.db", data / "secret.key", log)}
        modes["logs"] = mode(data / "logs")
        created = [mode(p) for p in data.glob("fogbank.db-*")]
    finally:
        server.stop_quietly()
    assert modes == {
        "data": 0o700,
        "fogbank.db": 0o600,
        "secret.key": 0o600,
        "1.log": 0o600,
        "logs": 0o700,
    }
    assert created and set(created) == {0o600}


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the directory to another user")
def test_a_data_directory_another_user_owns_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)  # noqa: S103 - the loose mode under test
    os.chown(data, 65534, 65534)
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert result.returncode == 2
    assert f"{data} is mode 755 and owned by uid 65534" in result.stderr
    assert f"chmod 700 {data}" in result.stderr


async def test_a_user_disabled_from_the_command_line_loses_its_socket(server: Server) -> None:
    """`fogbank user disable` runs in another process; the server closes the user's open socket
    with 4401 within 5 s of it (the audit entry it writes moves the watch's marker)."""
    cli("user", "create", "--username", "bob", "--role", "viewer", "--password-stdin",
        config=server.config, stdin="a long password\n")  # fmt: skip
    token = cli("token", "create", "--username", "bob", "--name", "ws", config=server.config)
    app = server.call("POST", "/api/apps/create", {"name": "sock", "gitRepository": "/srv/none"})
    database = sqlite3.connect(server.config.parent / "data" / "fogbank.db", timeout=10)
    with database:
        database.execute(
            "INSERT INTO deployment (app_id, deployment_number, commit_hash, commit_message, "
            "commit_author, triggered_by, status, stage, progress, error_message, image_tag, "
            "container_id, is_active, created_at, updated_at) VALUES (?, 1, '', '', '', 'manual', "
            "'building', '', 0, '', '', '', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            (app["data"]["id"],),
        )
    deployment_id = database.execute("SELECT max(id) FROM deployment").fetchone()[0]
    url = f"ws://127.0.0.1:{server.port}/ws/deployment/logs?deploymentId={deployment_id}"
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert json.loads(await ws.recv())["type"] == "status"
        await asyncio.to_thread(cli, "user", "disable", "bob", config=server.config)
        disabled = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(15):
                while True:
                    await ws.recv()
    seconds = time.monotonic() - disabled
    received = closed.value.rcvd
    assert received is not None and received.code == 4401
    print(f"\ndisabled from the CLI: socket closed {received.code} after {seconds:.2f} s")
    assert seconds < 5


def test_the_database_file_holds_no_plaintext_secret(server: Server) -> None:
    """A repository token, a secret env value, the webhook secret and the private deploy key go
    in through the API; the database file and its WAL hold none of them, and the API still
    shows the webhook secret to admins. Protection: SealedTextField (plain TEXT columns hold all
    four)."""
    url = f"https://x-access-token:{TOKEN}@git.example.invalid/acme/web.git"
    app = server.call("POST", "/api/apps/create", {"name": "sealed", "gitRepository": url})["data"]
    env = {"appId": app["id"], "key": "API_KEY", "value": ENV_SECRET, "isSecret": True}
    server.call("POST", "/api/apps/envs/create", env)
    webhook = server.call("POST", "/api/apps/webhook", {"appId": app["id"]})["data"]["secret"]
    assert app["git_repository"] == "https://git.example.invalid/acme/web.git"
    assert app["git_has_credentials"] is True and app["deploy_public_key"].startswith("ssh-ed25519")
    server.stop()
    raw = b"".join(
        p.read_bytes() for p in sorted((server.config.parent / "data").glob("fogbank.db*"))
    )
    for secret in (TOKEN, ENV_SECRET, webhook, "x-access-token", "OPENSSH PRIVATE KEY"):
        assert secret.encode() not in raw, secret
    assert app["deploy_public_key"].split()[1].encode() in raw  # the file is readable, not empty
