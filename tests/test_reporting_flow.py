"""Deployments reported back, end to end on a real Docker engine and real git repositories,
to a local HTTP server that plays GitHub's REST API (GitHub.com cannot be reached from here;
tests/support/fake_remote.py records each request and answers as GitHub documents): a pushed
commit's statuses, a failed build's, GitHub deployments and their statuses, retries that never
hold a deployment up, and a signed notification for a failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.config import (
    EdgeSettings,
    GithubSettings,
    GitSettings,
    NotifySettings,
    Settings,
    StorageSettings,
)
from controller.store.models import Deployment, Status
from tests.support.api import add_deployment, create_web_app, wait_terminal
from tests.support.fake_remote import Canned, FakeRemote, Recorded, start_fake_remote
from tests.support.github import deliver, hook_of, push
from tests.support.ports import free_port
from tests.support.repos import GitRepo
from webhooks.signature import verify

pytestmark = pytest.mark.slow

TOKEN = "ghp_reporting_flow_token"
APP_TOKEN = "ghp_this_apps_own_token"
FAILING_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "false"]
"""


@pytest.fixture
def fake() -> Iterator[FakeRemote]:
    remote = start_fake_remote()
    yield remote
    remote.stop()


@pytest.fixture
def retry_base_seconds() -> float:
    return 0.2


@pytest.fixture
def settings(tmp_path: Path, fake: FakeRemote, retry_base_seconds: float) -> Settings:
    return Settings(
        storage=StorageSettings(data_dir=tmp_path / "data"),
        git=GitSettings(allow_local=True, timeout_seconds=60),
        edge=EdgeSettings(admin_url=f"http://127.0.0.1:{free_port()}", http_port=free_port()),
        github=GithubSettings(api_url=fake.url, token=TOKEN, request_interval_seconds=0),
        notify=NotifySettings(retry_base_seconds=retry_base_seconds),
    )


async def reporting_app(
    client: QuartClient, admin: dict[str, str], name: str, repo: GitRepo, **github: object
) -> int:
    """The app, reporting to acme/<name> on the fake GitHub (its git URL is a local path)."""
    created = await create_web_app(client, admin, name, repo, publicPort=free_port())
    response = await client.put(
        "/api/apps/github/update",
        json={"appId": created["id"], "repository": f"acme/{name}", **github},
        headers=admin,
    )
    body = await response.get_json()
    assert response.status_code == 200, body
    source = "app" if github.get("token") else "global"
    assert body["data"]["reporting"] is True and body["data"]["token_source"] == source
    assert "token" not in body["data"]  # write-only
    for token in (TOKEN, github.get("token")):
        assert not token or str(token) not in await response.get_data(as_text=True)
    app_id: int = created["id"]
    return app_id


def statuses(fake: FakeRemote, name: str, sha: str) -> list[Recorded]:
    return [r for r in fake.seen(f"/repos/acme/{name}/statuses/{sha}") if r.status == 201]


def check_github_headers(request: Recorded, token: str = TOKEN) -> None:
    """As https://docs.github.com/en/rest documents every call."""
    assert request.method == "POST"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["authorization"] == f"Bearer {token}"


async def test_a_push_reports_pending_then_success_on_its_commit(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    app_name: str,
    fake: FakeRemote,
) -> None:
    app_id = await reporting_app(client, admin, app_name, web_repo)
    sha = web_repo.commit("second version", {"www/index.html": "two\n"})
    hook = await hook_of(client, admin, app_id)  # the app's own URL and secret
    answer = await deliver(client, push(web_repo.url, "main", sha, "second version"), hook)
    assert answer.status_code == 200, await answer.get_data(as_text=True)
    (deployment,) = await Deployment.filter(app_id=app_id)
    done = await wait_terminal(app, deployment.id)
    assert done.status is Status.SUCCESS, done.error_message
    seen = await fake.until(
        lambda _: any(r.json()["state"] == "success" for r in statuses(fake, app_name, sha))
    )
    posted = statuses(fake, app_name, sha)
    for request in posted:
        check_github_headers(request)
        body = request.json()
        assert body["context"] == f"fogbank/{app_name}"
        assert body["target_url"].endswith(f"/api/deployment/logs/{deployment.id}")
    states = [r.json()["state"] for r in posted]
    assert states[0] == "pending" and states[-1] == "success" and set(states[:-1]) == {"pending"}
    descriptions = [r.json()["description"] for r in posted]
    assert descriptions[0] == "Queued as deployment #1"
    assert "Deployment #1: building_image" in descriptions  # the stage, as it goes
    assert descriptions[-1] == f"Deployed #1 in {done.duration} s"
    assert seen  # every request the fake saw went to this commit's status
    assert {r.path for r in fake.seen()} == {f"/repos/acme/{app_name}/statuses/{sha}"}


async def test_a_failed_build_reports_failure_with_the_error_and_notifies_signed(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    app_name: str,
    fake: FakeRemote,
) -> None:
    app_id = await reporting_app(client, admin, app_name, web_repo)
    created = await client.post(
        "/api/notifications/targets/create",
        json={"appId": app_id, "name": "ops", "kind": "webhook", "url": f"{fake.url}/hook",
              "events": ["deployment.failed"]},
        headers=admin,
    )  # fmt: skip
    target = (await created.get_json())["data"]
    assert created.status_code == 201 and target["target"]["url"].endswith("/********")
    sha = web_repo.commit("break the build", {"Dockerfile": FAILING_DOCKERFILE})
    queued = await add_deployment(client, admin, app_id)
    done = await wait_terminal(app, queued["id"])
    assert done.status is Status.FAILED
    await fake.until(
        lambda _: (
            bool(fake.seen("/hook"))
            and any(r.json()["state"] == "failure" for r in statuses(fake, app_name, sha))
        )
    )
    final = statuses(fake, app_name, sha)[-1].json()
    assert final["state"] == "failure"
    assert final["description"].startswith("Failed at building_image: ")
    assert done.error_message[:40] in final["description"]
    (hook,) = fake.seen("/hook")
    assert verify(hook.body, hook.headers["x-fogbank-signature-256"], [target["secret"]])
    assert hook.json()["deployment"]["error_message"] == done.error_message


@pytest.mark.parametrize("retry_base_seconds", [2.0])
async def test_github_answering_500_three_times_never_holds_the_deployment(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    app_name: str,
    fake: FakeRemote,
) -> None:
    fake.answer_next(Canned(500), Canned(500), Canned(500))
    app_id = await reporting_app(client, admin, app_name, web_repo)
    queued = await add_deployment(client, admin, app_id)
    done = await wait_terminal(app, queued["id"])
    assert done.status is Status.SUCCESS
    sha = done.commit_hash
    await fake.until(
        lambda _: any(r.json()["state"] == "success" for r in statuses(fake, app_name, sha))
    )
    answers = fake.seen(f"/repos/acme/{app_name}/statuses/{sha}")
    assert [r.status for r in answers[:4]] == [500, 500, 500, 201]
    # The queued status, delivered once, after three retries (2 + 4 + 8 s of backoff)...
    assert [r.json()["description"] for r in answers[:4]] == ["Queued as deployment #1"] * 4
    assert (
        sum(
            r.json()["state"] == "pending"
            and r.status == 201
            and r.json()["description"] == "Queued as deployment #1"
            for r in answers
        )
        == 1
    )
    # ...while the deployment ran on as if GitHub were not there: it had finished before
    # GitHub accepted the first status.
    assert done.finished_at is not None and done.finished_at.timestamp() < answers[3].at


async def test_github_deployments_go_in_progress_success_then_inactive_when_replaced(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    app_name: str,
    fake: FakeRemote,
) -> None:
    app_id = await reporting_app(
        client, admin, app_name, web_repo, deployments=True, commitStatuses=False, token=APP_TOKEN
    )
    first = await add_deployment(client, admin, app_id)
    assert (await wait_terminal(app, first["id"])).status is Status.SUCCESS
    web_repo.commit("second version", {"www/index.html": "two\n"})
    second = await add_deployment(client, admin, app_id)
    assert (await wait_terminal(app, second["id"])).status is Status.SUCCESS
    created = f"/repos/acme/{app_name}/deployments"

    def states(github_id: int) -> list[str]:
        return [r.json()["state"] for r in fake.seen(f"{created}/{github_id}/statuses")]

    await fake.until(
        lambda _: (
            states(1000) == ["in_progress", "success", "inactive"]
            and states(1001) == ["in_progress", "success"]
        )
    )
    made = fake.seen(created)
    made = [r for r in made if r.path == created]
    assert [r.json()["ref"] for r in made] == [first["commit_hash"], second["commit_hash"]]
    for request in made:
        check_github_headers(request, APP_TOKEN)  # the app's own token, not the global one
        body = request.json()
        assert body["environment"] == app_name
        assert body["auto_merge"] is False and body["required_contexts"] == []
    success = fake.seen(f"{created}/1001/statuses")[1].json()
    assert success["environment_url"].startswith("http://")
    assert success["log_url"].endswith(f"/api/deployment/logs/{second['id']}")
    inactive = fake.seen(f"{created}/1000/statuses")[2].json()
    assert inactive["description"] == "Replaced by deployment #2"
    assert not fake.seen(f"/repos/acme/{app_name}/statuses")  # commit statuses were off
