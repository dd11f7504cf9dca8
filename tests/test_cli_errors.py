"""The client's failures against a real server: each ends in one line on standard error (no
traceback) and its exit code: wrong password, unreachable server, a token the server does not
know (revoked), all 3; a viewer trying to deploy, 4. The credentials file is 0600, and
FOGBANK_TOKEN in the environment wins over it; its token never goes to another server; logout
revokes the token it saved."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import client_env, fogbank
from tests.support.ports import free_port
from tests.support.server import ADMIN_PASSWORD, Server, cli, prepare_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    found = prepare_server(tmp_path_factory.mktemp("cli-errors"))
    found.start()
    cli("user", "create", "--username", "watcher", "--role", "viewer", "--password-stdin",
        config=found.config, stdin="a viewer's password\n")  # fmt: skip
    found.call("POST", "/api/apps/create", {"name": "errors-app",
               "gitRepository": "https://example.com/never/fetched.git"})  # fmt: skip
    yield found
    found.stop()
    found.stop_quietly()


@pytest.fixture(scope="module")
def viewer_token(server: Server) -> str:
    return cli("token", "create", "--username", "watcher", "--name", "t", config=server.config)


def revoked_token(server: Server, home: Path) -> str:
    """A token made and then revoked with the client (`tokens create`, `tokens revoke`)."""
    env = client_env(home, server.base, server.token)
    created = fogbank("tokens", "create", "doomed", "--json", env=env)
    assert created.returncode == 0, created.stderr
    made = json.loads(created.stdout)
    revoked = fogbank("tokens", "revoke", str(made["id"]), env=env)
    assert revoked.returncode == 0, revoked.stderr
    listed = json.loads(fogbank("tokens", "--json", env=env).stdout)
    assert made["id"] not in [token["id"] for token in listed]
    return str(made["token"])


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("fogbank: ")
    return lines[0]


def test_a_wrong_password_exits_3(server: Server, tmp_path: Path) -> None:
    result = fogbank("login", server.base, "-u", "admin", "--password-stdin",
                     env=client_env(tmp_path), stdin="not the password\n")  # fmt: skip
    assert result.returncode == 3
    assert one_line(result.stderr) == f"fogbank: {server.base}: invalid username or password"
    assert not (tmp_path / "config" / "fogbank" / "credentials").exists()


def test_an_unreachable_server_exits_3(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = fogbank("apps", env=client_env(tmp_path, url, "any-token"))
    assert result.returncode == 3
    assert one_line(result.stderr) == f"fogbank: cannot reach {url}: connection refused"


def test_a_revoked_token_exits_3(server: Server, tmp_path: Path) -> None:
    token = revoked_token(server, tmp_path)
    result = fogbank("deploy", "errors-app", env=client_env(tmp_path, server.base, token))
    assert result.returncode == 3
    assert "revoked API token" in one_line(result.stderr)


def test_a_viewer_deploying_exits_4(server: Server, tmp_path: Path, viewer_token: str) -> None:
    result = fogbank("deploy", "errors-app", env=client_env(tmp_path, server.base, viewer_token))
    assert result.returncode == 4
    assert one_line(result.stderr) == (
        "fogbank: this action needs the deployer role; you are viewer"
    )


def test_credentials_are_0600_and_the_environment_wins(
    server: Server, tmp_path: Path, viewer_token: str
) -> None:
    path = tmp_path / "config" / "fogbank" / "credentials"
    path.parent.mkdir(parents=True)
    path.write_text("left by someone, world-readable\n")
    path.chmod(0o644)
    env = client_env(tmp_path)
    login = fogbank("login", server.base, "-u", "admin", "--password-stdin", env=env,
                    stdin=ADMIN_PASSWORD)  # fmt: skip
    assert login.returncode == 0, login.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    assert fogbank("whoami", env=env).stdout == f"admin (admin) on {server.base}\n"
    as_viewer = fogbank("whoami", env={**env, "FOGBANK_TOKEN": viewer_token})
    assert as_viewer.stdout == f"watcher (viewer) on {server.base}\n"
    elsewhere = f"http://127.0.0.1:{free_port()}"
    other = fogbank("whoami", env={**env, "FOGBANK_URL": elsewhere})
    assert other.returncode == 3  # the saved token is not sent to another server
    assert one_line(other.stderr).startswith(f"fogbank: not logged in to {elsewhere}")
    saved = json.loads(path.read_text())["token"]
    logout = fogbank("logout", env=env)
    assert logout.returncode == 0, logout.stderr
    assert logout.stdout == f"logged out of {server.base}: token revoked and forgotten\n"
    assert not path.exists()
    after = fogbank("whoami", env=client_env(tmp_path, server.base, saved))
    assert after.returncode == 3  # revoked on the server, not only forgotten here
