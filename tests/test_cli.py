"""`fogbank --help` and `fogbank --version` on a host without git (GitPython raises at import
when no git is on PATH, so the CLI must not import it for these)."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("command", [[], ["serve"]])
def test_help_without_git(no_git_env: dict[str, str], command: list[str]) -> None:
    result = python(["-m", "api.cli", *command, "--help"], no_git_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: fogbank {' '.join(command)}".rstrip())
    assert result.stderr == ""
