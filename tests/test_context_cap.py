"""A commit whose tree expands past build.max_context_bytes fails a real deployment at
cloning_repo, naming the limit, and leaves no file behind (build directory, temp dir). Real app
lifespan, real git repository (a small one that expands: zeros compress well), real worker."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.config import Settings
from controller.store.models import Stage, Status
from tests.support.api import add_deployment, create_web_app, services_of, wait_terminal
from tests.support.repos import GitRepo

pytestmark = pytest.mark.slow

MIB = 1024 * 1024


@pytest.fixture
def settings(settings: Settings) -> Settings:
    build = settings.build.model_copy(update={"max_context_bytes": MIB})
    return settings.model_copy(update={"build": build})


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp dir of this test's own, for Python and git, to see that nothing is left in it."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def stored_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def entries(directory: Path) -> list[str]:
    """What is in `directory` (nothing when it does not exist)."""
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


async def test_a_tree_past_the_cap_fails_at_cloning_repo_and_leaves_nothing(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    app_name: str,
    private_tmp: Path,
) -> None:
    """Protection: the two byte counts of controller/source/archive.py, the archive stream's and
    the extracted members' (either one alone still refuses; without both the tree deploys)."""
    created = await create_web_app(client, admin, app_name, web_repo)
    before = stored_bytes(web_repo.path / ".git")
    web_repo.write("big.bin", "\0" * (3 * MIB))
    sha = web_repo.commit("three mebibytes of zeros")
    assert stored_bytes(web_repo.path / ".git") - before < 64 * 1024  # small in git

    queued = await add_deployment(client, admin, created["id"])
    assert queued["commit_hash"] == sha
    done = await wait_terminal(app, queued["id"])

    assert (done.status, done.stage) == (Status.FAILED, Stage.CLONING_REPO)
    assert done.error_message == (
        "the commit's tree is larger than build.max_context_bytes (1048576 bytes)"
    )
    assert not done.image_tag
    assert entries(services_of(app).controller.settings.builds_dir) == []
    assert entries(private_tmp) == []
    log = await services_of(app).controller.log_text(done.id)
    assert "build.max_context_bytes" in log and "Building Docker image" not in log
