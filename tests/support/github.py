"""GitHub webhook deliveries for tests, built from the real payloads in tests/fixtures/github
(copied from octokit/webhooks, MIT): load one, point it at a repository a test made, sign the
exact bytes that are sent. GitHub.com itself is the one thing faked: these requests stand in
for its deliveries."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from quart import Response
from quart.testing import QuartClient

from webhooks.signature import sign

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github"
LOCATION_KEYS = ("clone_url", "ssh_url", "git_url", "html_url", "url", "svn_url")
ZERO_SHA = "0" * 40
GLOBAL_PATH = "/webhooks/github"


@dataclass(frozen=True)
class Hook:
    """Where a delivery is posted and the secret that signs it: an app's own URL and secret,
    or the global URL (signed with github.webhook_secret)."""

    secret: str
    path: str = GLOBAL_PATH


def load(name: str) -> dict[str, Any]:
    """A fixture payload, parsed."""
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def at_repository(payload: dict[str, Any], url: str, full_name: str) -> dict[str, Any]:
    """A copy of `payload` whose repository is `url` (every location key) named `full_name`."""
    result = copy.deepcopy(payload)
    repository = result["repository"]
    for key in LOCATION_KEYS:
        repository[key] = url
    repository["full_name"] = full_name
    repository["name"] = full_name.rsplit("/", 1)[-1]
    return result


def push(
    url: str,
    branch: str,
    sha: str,
    message: str,
    *,
    full_name: str = "fogbank-tests/repo",
    author: tuple[str, str] = ("Test Author", "author@example.com"),
) -> dict[str, Any]:
    """push-with-new-branch.json, re-aimed: `branch` of `url` now points at commit `sha`."""
    payload = at_repository(load("push-with-new-branch.json"), url, full_name)
    payload["ref"] = f"refs/heads/{branch}"
    payload["after"] = sha
    head = payload["head_commit"]
    head["id"] = sha
    head["message"] = message
    name, email = author
    head["author"] = {"name": name, "email": email, "username": name.replace(" ", "")}
    head["committer"] = dict(head["author"])
    payload["commits"] = [copy.deepcopy(head)]
    return payload


def deletion(url: str, branch: str, *, full_name: str = "fogbank-tests/repo") -> dict[str, Any]:
    """A push that deletes `branch` (deleted, all-zero `after`, no head commit)."""
    payload = at_repository(load("push-with-new-branch.json"), url, full_name)
    payload.update(
        ref=f"refs/heads/{branch}",
        after=ZERO_SHA,
        created=False,
        deleted=True,
        head_commit=None,
        commits=[],
    )
    return payload


def signed(
    payload: dict[str, Any] | bytes,
    secret: str,
    *,
    event: str = "push",
    delivery: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body and GitHub's headers for one delivery signed with `secret`."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/fogbank-tests",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(secret, body),
    }
    return body, headers


async def deliver(
    client: QuartClient,
    payload: dict[str, Any] | bytes,
    hook: Hook | str,
    *,
    event: str = "push",
    delivery: str | None = None,
    path: str | None = None,
) -> Response:
    """POST one signed delivery to the receiver: to the hook's URL (a bare string is a secret
    for the global URL), or to `path`."""
    hook = Hook(hook) if isinstance(hook, str) else hook
    body, headers = signed(payload, hook.secret, event=event, delivery=delivery)
    return await client.post(path or hook.path, data=body, headers=headers)


async def hook_of(client: QuartClient, admin: dict[str, str], app_id: int) -> Hook:
    """The app's own webhook (secret and payload URL), as an admin reads it through the API."""
    response = await client.post("/api/apps/webhook", json={"appId": app_id}, headers=admin)
    assert response.status_code == 200, await response.get_data(as_text=True)
    data = (await response.get_json())["data"]
    return Hook(str(data["secret"]), urlsplit(str(data["payloadUrl"])).path)


async def secret_of(client: QuartClient, admin: dict[str, str], app_id: int) -> str:
    """The app's webhook secret, as an admin reads it through the API."""
    return (await hook_of(client, admin, app_id)).secret


async def answer_of(response: Response, status: int) -> dict[str, Any]:
    """The envelope of `response`, after checking its status."""
    assert response.status_code == status, await response.get_data(as_text=True)
    body: dict[str, Any] = await response.get_json()
    assert set(body) == {"success", "message", "data", "error"}
    return body
