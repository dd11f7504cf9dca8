"""`fogbank --help` and `fogbank --version` on a host without git (GitPython raises at import
when no git is on PATH, so the CLI must not import it for these); --help groups the client and
the server commands apart; usage errors are one line (exit 64); where the client finds its
server and token (no server needed for these)."""

from __future__ import annotations

import stat
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from api.cli import credentials
from api.cli.credentials import Target
from api.cli.errors import CliError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_git_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH is one empty directory: no git to be found."""
    empty = tmp_path / "bin"
    empty.mkdir()
    return {"PATH": str(empty), "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}


def python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_git_is_really_missing_there(no_git_env: dict[str, str]) -> None:
    """The premise of the tests below: in this environment GitPython cannot be imported."""
    result = python(["-c", "import git"], no_git_env)
    assert result.returncode != 0
    assert "Bad git executable" in result.stderr


def test_version_without_git(no_git_env: dict[str, str]) -> None:
    result = python(["-m", "api.cli", "--version"], no_git_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"fogbank {metadata.version('fogbank')}"


@pytest.mark.parametrize("command", [[], ["serve"], ["deploy"], ["user", "create"]])
def test_help_without_git(no_git_env: dict[str, str], command: list[str]) -> None:
    result = python(["-m", "api.cli", *command, "--help"], no_git_env)
    assert result.returncode == 0, result.stderr
    assert f"Usage: fogbank {' '.join(command)}".rstrip() in result.stdout
    assert result.stderr == ""


def test_help_groups_client_and_server_commands(no_git_env: dict[str, str]) -> None:
    shown = python(["-m", "api.cli", "--help"], no_git_env).stdout
    client = shown.index("Client commands")
    server = shown.index("Server commands")
    for command in ("login", "deploy", "app-logs", "rollback", "env", "tokens", "webhook"):
        assert shown.index(f" {command} ", client) < server, command
    for command in ("serve", "user", "token"):
        assert f" {command} " in shown[server:], command
        assert f"│ {command} " not in shown[client:server], command


def test_a_usage_error_is_one_line_exit_64(no_git_env: dict[str, str]) -> None:
    result = python(["-m", "api.cli", "deploy", "app", "--no-such-option"], no_git_env)
    assert result.returncode == 64
    assert result.stderr == (
        "fogbank: No such option: --no-such-option (see `fogbank deploy --help`)\n"
    )


def test_no_server_known_is_one_line_exit_3(no_git_env: dict[str, str]) -> None:
    result = python(["-m", "api.cli", "apps"], no_git_env)
    assert result.returncode == 3
    assert result.stderr.startswith("fogbank: no server: run `fogbank login URL`")
    assert result.stderr.count("\n") == 1


def test_saved_credentials_are_0600_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("FOGBANK_URL", raising=False)
    monkeypatch.delenv("FOGBANK_TOKEN", raising=False)
    path = credentials.save(Target("http://fogbank.example:8080", "saved-token", 7))
    assert path == tmp_path / "fogbank" / "credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert credentials.resolve() == Target("http://fogbank.example:8080", "saved-token")
    monkeypatch.setenv("FOGBANK_TOKEN", "from-the-environment")
    assert credentials.resolve().token == "from-the-environment"
    monkeypatch.delenv("FOGBANK_TOKEN")
    monkeypatch.setenv("FOGBANK_URL", "http://fogbank.example:8080/")
    assert credentials.resolve().token == "saved-token"  # the same server, spelled otherwise
    monkeypatch.setenv("FOGBANK_URL", "http://elsewhere.example")
    with pytest.raises(CliError) as refused:
        credentials.resolve()  # the saved token is for another server
    assert refused.value.exit_code == 3
    assert credentials.forget() and not path.exists()


def test_the_serve_process_imports_neither_the_client_side_nor_httpx_command_line() -> None:
    """`fogbank serve` is the long-lived process: what only the client commands use (rich for
    their output) and httpx's own command line (rich, pygments) would be memory held for
    nothing. The import set of the server's command tree and app is pinned here."""
    probe = (
        "import sys\n"
        "from api.cli.app import build\n"
        "build(client=False)\n"
        "import api.app, api.runtime\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'rich', 'pygments', 'markdown_it', 'asyncpg'})))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60,
        cwd=ROOT,
    )  # fmt: skip
    assert found.stdout.split() == []
