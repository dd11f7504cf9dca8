"""Input that must never reach a shell, a git option or a path outside the repository: refused with
422 before anything runs, with no row written (and a marker file proves no command ran)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import docker
import pytest
from quart import Quart
from quart.testing import QuartClient

from api.app import create_app
from controller.config import Settings
from controller.store.models import App, Deployment, Domain, EnvVar, Stage, Status
from tests.support.api import create_web_app, signup_admin, wait_terminal
from tests.support.repos import GitRepo

pytestmark = pytest.mark.slow


def injected_urls(marker: Path) -> list[str]:
    touch = f"touch${{IFS}}{marker}"
    return [
        f"--upload-pack={touch}",
        f"--upload-pack=touch {marker}",
        f"-u{touch}",
        f"ext::sh -c touch% {marker}",
        f"ext::sh${{IFS}}-c${{IFS}}{touch}",
        "fd::3",
        f"ssh://-oProxyCommand={touch}/repo.git",
        f"ssh://-oProxyCommand={touch}@example.com/repo.git",
        f"git@-oProxyCommand={touch}:repo.git",
        f"-oProxyCommand={touch}@example.com:repo.git",
        f"https://example.com/a.git --upload-pack={touch}",
        f"https://example.com/a.git\n--upload-pack={touch}",
        f"$(touch {marker})",
        f"`touch {marker}`",
        f"https://example.com/a.git;touch {marker}",
    ]


async def rows() -> tuple[Any, ...]:
    """Everything the refused requests could have written."""
    apps = (
        await App.all()
        .order_by("id")
        .values_list(
            "id", "name", "git_repository", "git_branch", "root_directory", "dockerfile_path"
        )
    )
    counts = [await model.all().count() for model in (Deployment, EnvVar, Domain)]
    return (tuple(apps), *counts)


async def refused(response: Any, fragment: str = "") -> None:
    body = await response.get_json()
    assert response.status_code == 422, body
    assert body["success"] is False and body["error"] in ("VALIDATION_FAILED", "GIT_ERROR")
    assert fragment in body["message"], body["message"]


@pytest.fixture
async def target(client: QuartClient, admin: dict[str, str], tmp_path: Path) -> int:
    """A valid app whose repository does not exist: anything that does run fails in git at once."""
    response = await client.post(
        "/api/apps/create",
        json={"name": "target", "gitRepository": f"file://{tmp_path}/no-such-repo"},
        headers=admin,
    )
    app_id: int = (await response.get_json())["data"]["id"]
    return app_id


async def test_repository_urls_never_become_git_options_or_commands(
    client: QuartClient, admin: dict[str, str], target: int, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    before = await rows()
    for url in injected_urls(marker):
        created = await client.post(
            "/api/apps/create", json={"name": "evil", "gitRepository": url}, headers=admin
        )
        await refused(created, "gitRepository")
        updated = await client.put(
            "/api/apps/update", json={"appId": target, "gitRepository": url}, headers=admin
        )
        await refused(updated, "gitRepository")
    # The app still has its own repository; deploying it runs git on that, and fails there.
    await refused(await client.post("/api/deployment/add", json={"appId": target}, headers=admin))
    assert await rows() == before
    assert not marker.exists()


async def test_local_repositories_need_git_allow_local(settings: Settings) -> None:
    strict = settings.model_copy(
        update={"git": settings.git.model_copy(update={"allow_local": False})}
    )
    quart_app = create_app(strict)
    async with quart_app.test_app():
        client = QuartClient(quart_app)
        headers = await signup_admin(client)
        for url in ("file:///etc", "FILE:///etc", "file://localhost/etc", "file:/etc", "/etc"):
            response = await client.post(
                "/api/apps/create", json={"name": "local", "gitRepository": url}, headers=headers
            )
            await refused(response, "git.allow_local")
        assert await App.all().count() == 0


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("name", ["../etc", "..", "a/../../b", "../../tmp/x", "a/b", ".hidden", "-rf", "A"]),
        (
            "gitBranch",
            ["--upload-pack=touch${IFS}/tmp/x", "-b", "main;id", "$(id)", "a..b", "@{-1}", "a b"],
        ),
        (
            "dockerfilePath",
            [
                "../Dockerfile",
                "../../etc/passwd",
                "/etc/passwd",
                "a/../../b",
                "..\\x",
                "-f",
                "a\x00",
            ],
        ),
        ("rootDirectory", ["..", "../..", "/", "/etc", "a/../..", "sub/../../x", "-x", "\x00"]),
        ("healthCheckPath", ["/\r\nHost: evil", "x", "/a b", "/a\x00"]),
    ],
)
async def test_app_fields_stay_inside_their_bounds(
    client: QuartClient, admin: dict[str, str], target: int, field: str, values: list[str]
) -> None:
    before = await rows()
    for value in values:
        body = {"name": "ok", "gitRepository": "https://example.com/a.git", field: value}
        created = await client.post("/api/apps/create", json=body, headers=admin)
        await refused(created, field if field != "name" else "name must be")
        if field != "name":
            changed = await client.put(
                "/api/apps/update", json={"appId": target, field: value}, headers=admin
            )
            await refused(changed, field)
    assert await rows() == before


async def test_env_keys_and_values(client: QuartClient, admin: dict[str, str], target: int) -> None:
    before = await rows()
    for key in ("A=B", "A\x00B", "=x", "A B", "A;id", "", "1A", "A-B", "PATH\n", "$(id)"):
        response = await client.post(
            "/api/apps/envs/create", json={"appId": target, "key": key, "value": "v"}, headers=admin
        )
        await refused(response, "env key")
    response = await client.post(
        "/api/apps/envs/create",
        json={"appId": target, "key": "OK", "value": "a\x00b"},
        headers=admin,
    )
    await refused(response, "NUL")
    assert await rows() == before


async def test_domain_names(client: QuartClient, admin: dict[str, str], target: int) -> None:
    before = await rows()
    for hostname in (
        "a b.example",
        " a.example",
        "a.example ",
        "a.example\n",
        "a.example\tx",
        "http://a.example",
        "a.example:80",
        "a.example/x",
        "*.a.example",
        "a..example",
        "-a.example",
        "127.0.0.1",
        "a.example\x00",
        "a.example;reload",
    ):
        response = await client.post(
            "/api/apps/domains/create", json={"appId": target, "hostname": hostname}, headers=admin
        )
        await refused(response, "hostname")
    assert await rows() == before


async def test_commit_names_are_only_hex(
    client: QuartClient, admin: dict[str, str], target: int
) -> None:
    before = await rows()
    for commit in ("--upload-pack=touch${IFS}/tmp/x", "HEAD", "main", "HEAD~1", "abc", "-" * 40):
        response = await client.post(
            "/api/deployment/add", json={"appId": target, "commitHash": commit}, headers=admin
        )
        await refused(response, "commitHash")
    assert await rows() == before


async def test_rows_that_skipped_validation_still_cannot_inject(
    client: QuartClient, admin: dict[str, str], tmp_path: Path
) -> None:
    """Defence in depth: a row written around the API (an old version, a hand edit) reaches git
    only after `--` and with ext:: refused, so it fails in git and runs nothing."""
    marker = tmp_path / "pwned"
    for index, url in enumerate(injected_urls(marker)[:6]):
        app = await App.create(name=f"raw-{index}", git_repository=url)
        response = await client.post("/api/deployment/add", json={"appId": app.id}, headers=admin)
        assert 400 <= response.status_code < 500, await response.get_data(as_text=True)
    branch = await App.create(
        name="raw-branch",
        git_repository=f"file://{tmp_path}/none",
        git_branch=f"--upload-pack=touch${{IFS}}{marker}",
    )
    response = await client.post("/api/deployment/add", json={"appId": branch.id}, headers=admin)
    assert response.status_code == 422
    assert await Deployment.all().count() == 0
    assert not marker.exists()


async def test_repository_symlinks_cannot_take_the_build_outside(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    app_name: str,
    docker_client: docker.DockerClient,
) -> None:
    """A commit whose build context or Dockerfile is a symlink out of the repository fails at
    export: nothing of the host is sent to the Docker build."""
    os.symlink("/etc", web_repo.path / "context")
    os.symlink("../../../../../../etc/passwd", web_repo.path / "Dockerfile.outside")
    web_repo.commit("symlinks out of the repository")
    made = await create_web_app(client, admin, app_name, web_repo, rootDirectory="context")
    for change in ({}, {"rootDirectory": ".", "dockerfilePath": "Dockerfile.outside"}):
        if change:
            changed = await client.put(
                "/api/apps/update", json={"appId": made["id"], **change}, headers=admin
            )
            assert changed.status_code == 200
        added = await client.post("/api/deployment/add", json={"appId": made["id"]}, headers=admin)
        deployment = await wait_terminal(app, (await added.get_json())["id"])
        assert deployment.status is Status.FAILED
        assert deployment.stage is Stage.CLONING_REPO
        assert "cannot be exported safely" in (deployment.error_message or "")
    assert docker_client.images.list(filters={"label": f"fogbank.app={app_name}"}) == []
