"""GitHub's REST API as fogbank uses it: commit statuses, deployments and deployment statuses,
with the headers GitHub documents (Accept, X-GitHub-Api-Version, a Bearer token) and its rate
limits read from every answer."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from importlib import metadata
from typing import Any
from urllib.parse import quote

import httpx

from controller.notify.attempt import Attempt, classify, retry_after, summary
from controller.store.reporting import GithubDeployment, GithubLink, OutboxMessage

API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
# GitHub's advice for a secondary rate limit that names no time: wait at least a minute.
SECONDARY_LIMIT_SECONDS = 60.0


def user_agent() -> str:
    try:
        return f"fogbank/{metadata.version('fogbank')}"
    except metadata.PackageNotFoundError:
        return "fogbank"


def headers(token: str) -> dict[str, str]:
    return {
        "Accept": MEDIA_TYPE,
        "X-GitHub-Api-Version": API_VERSION,
        "Authorization": f"Bearer {token}",
        "User-Agent": user_agent(),
    }


@dataclass(frozen=True)
class Request:
    path: str
    body: dict[str, Any]


def repo_path(repository: str) -> str:
    owner, _, name = repository.partition("/")
    return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"


async def request_for(message: OutboxMessage, payload: dict[str, Any]) -> Request | Attempt:
    """The API call a message makes, or why it cannot be made."""
    repo = repo_path(payload["repository"])
    if message.action == "commit_status":
        body = {key: payload[key] for key in ("state", "target_url", "description", "context")}
        return Request(f"{repo}/statuses/{quote(payload['sha'], safe='')}", body)
    if message.action == "deployment":
        body = {
            "ref": payload["ref"],
            "task": "deploy",
            # fogbank deploys the exact commit: GitHub must not merge anything into it, and
            # must not wait for other checks (fogbank's own status is still pending).
            "auto_merge": False,
            "required_contexts": [],
            "environment": payload["environment"],
            "description": payload["description"],
            "payload": {"fogbank_deployment_id": message.deployment_id},
        }
        return Request(f"{repo}/deployments", body)
    if message.action == "deployment_status":
        made = await GithubDeployment.get_or_none(deployment_id=message.deployment_id)
        if made is None:
            return Attempt.failed("no GitHub deployment was created for it", permanent=True)
        body = {key: payload[key] for key in ("state", "description", "log_url", "environment")}
        if payload.get("environment_url"):
            body["environment_url"] = payload["environment_url"]
        return Request(f"{repo}/deployments/{made.github_id}/statuses", body)
    return Attempt.failed(f"unknown GitHub action {message.action!r}", permanent=True)


async def token_for(app_id: int | None, global_token: str) -> str:
    link = await GithubLink.get_or_none(app_id=app_id) if app_id is not None else None
    return (link.token if link else "") or global_token


def rate_limit(response: httpx.Response, now: float | None = None) -> float | None:
    """When GitHub's answer says to stop (epoch seconds), or None: x-ratelimit-remaining 0
    until x-ratelimit-reset; on a 403 or 429, Retry-After, or a minute for a secondary limit."""
    now = time.time() if now is None else now
    remaining = response.headers.get("x-ratelimit-remaining", "").strip()
    reset = response.headers.get("x-ratelimit-reset", "").strip()
    if remaining == "0" and reset.isdigit():
        return float(reset)
    if response.status_code not in (403, 429):
        return None
    after = retry_after(response, now)
    if after is not None:
        return after
    if response.status_code == 429 or "rate limit" in response.text.lower():
        return now + SECONDARY_LIMIT_SECONDS
    return None


async def send(
    client: httpx.AsyncClient, api_url: str, token: str, message: OutboxMessage
) -> tuple[Attempt, float | None]:
    """Make the message's call; how it went, and until when GitHub asks for a pause."""
    if not token:
        return Attempt.failed("no GitHub token (the app's or github.token)", permanent=True), None
    made = await request_for(message, json.loads(message.payload))
    if isinstance(made, Attempt):
        return made, None
    response = await client.post(api_url + made.path, json=made.body, headers=headers(token))
    pause = rate_limit(response)
    if response.status_code in (403, 429) and pause is not None:
        error = f"GitHub rate limit: {summary(response)}"
        return Attempt(False, error, not_before=pause, rate_limited=True), pause
    attempt = classify(response)
    if attempt.ok and message.action == "deployment":
        if response.status_code != 201:  # 202: GitHub merged or queued something; not ours
            return Attempt.failed(summary(response), permanent=True), pause
        # update_or_create: a create sent again after a crash points at the newer one.
        await GithubDeployment.update_or_create(
            defaults={
                "github_id": int(response.json()["id"]),
                "repository": json.loads(message.payload)["repository"],
            },
            deployment_id=message.deployment_id,
        )
    return attempt, pause
