"""A webhook secret deploys only what it is bound to: an app's own secret, on that app's own URL,
that app alone; the global secret every app of the one repository a delivery names; a delivery
naming two repositories nothing. Real app lifespan, real SQLite, real git repositories; GitHub.com
is the one thing faked (its real payloads, re-aimed and signed here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from quart.testing import QuartClient

from controller.config import GithubSettings, Settings
from controller.store.models import Deployment, WebhookDelivery
from tests.support.api import create_web_app, unique_name
from tests.support.github import Hook, answer_of, deliver, hook_of, push
from tests.support.repos import GitRepo, make_web_repo

pytestmark = pytest.mark.slow

GLOBAL_SECRET = "global-webhook-secret"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No workers: what is checked is what the deliveries queued (model_copy: a config cannot
    # say workers = 0).
    controller = settings.controller.model_copy(update={"workers": 0})
    github = GithubSettings(webhook_secret=GLOBAL_SECRET)
    return settings.model_copy(update={"github": github, "controller": controller})


@pytest.fixture
def other_repo(tmp_path: Path) -> GitRepo:
    return make_web_repo(tmp_path / "other")


async def deployments_of(*apps: dict[str, Any]) -> list[int]:
    return [await Deployment.filter(app_id=app["id"]).count() for app in apps]


async def create_remote_app(client: QuartClient, admin: dict[str, str], url: str) -> dict[str, Any]:
    body = {"name": unique_name(), "gitRepository": url}
    response = await client.post("/api/apps/create", json=body, headers=admin)
    assert response.status_code == 201, await response.get_data(as_text=True)
    data: dict[str, Any] = (await response.get_json())["data"]
    return data


def push_to(repo: GitRepo, name: str) -> dict[str, Any]:
    """A push of the repository's head, its full_name `fogbank-tests/<name>`."""
    head = repo.git("rev-parse", "HEAD")
    return push(repo.url, "main", head, "a push", full_name=f"fogbank-tests/{name}")


async def test_an_apps_secret_naming_another_apps_repository_deploys_nothing_there(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo, other_repo: GitRepo
) -> None:
    """Protection: the dispatch keeping, on an app's own URL, that app only (without it, A's
    secret naming B's repository deploys B)."""
    a = await create_web_app(client, admin, unique_name(), web_repo)
    b = await create_web_app(client, admin, unique_name(), other_repo)
    a_hook = await hook_of(client, admin, a["id"])
    b_hook = await hook_of(client, admin, b["id"])
    at_b = push_to(other_repo, "b")  # names B's repository

    # A's secret on A's URL: the delivery is A's to make, and A does not track that repository.
    answer = await answer_of(await deliver(client, at_b, a_hook), 202)
    assert answer["message"] == f"app '{a['name']}' does not track fogbank-tests/b"
    assert answer["data"]["deployments"] == []
    # A's secret anywhere else: on B's URL, the global URL and its alias.
    for path in (b_hook.path, "/webhooks/github", "/api/github/webhook"):
        refused = await deliver(client, at_b, a_hook.secret, path=path)
        assert (await answer_of(refused, 401))["error"] == "UNAUTHORIZED"
    assert await deployments_of(a, b) == [0, 0]

    # The control: B's own secret on B's URL deploys B (and only B).
    answer = await answer_of(await deliver(client, at_b, b_hook), 200)
    assert [entry["appId"] for entry in answer["data"]["deployments"]] == [b["id"]]
    assert await deployments_of(a, b) == [0, 1]


async def test_the_global_secret_deploys_every_app_of_the_one_repository_named(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo, other_repo: GitRepo
) -> None:
    first = await create_web_app(client, admin, unique_name(), web_repo)
    second = await create_web_app(client, admin, unique_name(), web_repo)
    elsewhere = await create_web_app(client, admin, unique_name(), other_repo)

    answer = await answer_of(await deliver(client, push_to(web_repo, "a"), GLOBAL_SECRET), 200)
    made = [entry["appId"] for entry in answer["data"]["deployments"]]
    assert made == [first["id"], second["id"]]
    assert await deployments_of(first, second, elsewhere) == [1, 1, 0]


@pytest.mark.parametrize("spelling", ["ssh_url", "git_url", "html_url", "url", "svn_url"])
async def test_a_delivery_naming_two_repositories_is_refused_on_every_url(
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    other_repo: GitRepo,
    spelling: str,
) -> None:
    a = await create_web_app(client, admin, unique_name(), web_repo)
    b = await create_web_app(client, admin, unique_name(), other_repo)
    two = push_to(web_repo, "a")
    two["repository"][spelling] = other_repo.url  # clone_url says A's, this one B's
    for hook in (await hook_of(client, admin, a["id"]), Hook(GLOBAL_SECRET)):
        answer = await answer_of(await deliver(client, two, hook), 400)
        assert answer["error"] == "REPOSITORIES_DISAGREE"
        assert spelling in answer["message"] and "clone_url" in answer["message"]
    assert await deployments_of(a, b) == [0, 0]
    assert await WebhookDelivery.all().count() == 0


async def test_full_name_must_name_the_repository_its_urls_name(
    client: QuartClient, admin: dict[str, str]
) -> None:
    a = await create_remote_app(client, admin, HELLO)
    b = await create_remote_app(client, admin, OTHER)
    payload = push(HELLO, "main", "a" * 40, "x", full_name="octocat/other")
    answer = await answer_of(await deliver(client, payload, GLOBAL_SECRET), 400)
    assert answer["error"] == "REPOSITORIES_DISAGREE" and "full_name" in answer["message"]
    assert await deployments_of(a, b) == [0, 0]

    # Consistent spellings of one repository (GitHub's API form of `url` included) deploy.
    payload = push(HELLO, "main", "a" * 40, "x", full_name="octocat/hello")
    payload["repository"]["url"] = "https://api.github.com/repos/octocat/hello"
    payload["repository"]["ssh_url"] = "git@github.com:octocat/hello.git"
    answer = await answer_of(await deliver(client, payload, GLOBAL_SECRET), 200)
    assert [entry["appId"] for entry in answer["data"]["deployments"]] == [a["id"]]


async def test_a_delivery_id_recorded_on_one_apps_url_does_not_answer_for_another(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo, other_repo: GitRepo
) -> None:
    a = await create_web_app(client, admin, unique_name(), web_repo)
    b = await create_web_app(client, admin, unique_name(), other_repo)
    a_hook = await hook_of(client, admin, a["id"])
    b_hook = await hook_of(client, admin, b["id"])
    # A's secret holder records delivery id "d-1" first, with a push of its own repository ...
    await answer_of(await deliver(client, push_to(web_repo, "a"), a_hook, delivery="d-1"), 200)
    # ... B's genuine delivery with that id is still B's, not a replay of A's answer.
    answer = await answer_of(
        await deliver(client, push_to(other_repo, "b"), b_hook, delivery="d-1"), 200
    )
    assert [entry["appId"] for entry in answer["data"]["deployments"]] == [b["id"]]
    assert answer["data"]["delivery"] == "d-1"
    assert await deployments_of(a, b) == [1, 1]
    # On A's own URL, the same id is a redelivery: the same answer, nothing new.
    again = await deliver(client, push_to(web_repo, "a"), a_hook, delivery="d-1")
    assert again.status_code == 200
    assert await deployments_of(a, b) == [1, 1]


HELLO = "https://github.com/octocat/hello.git"
OTHER = "https://github.com/octocat/other.git"
