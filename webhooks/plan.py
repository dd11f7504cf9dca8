"""What a GitHub delivery asks for, decided from its payload alone (pure: no database, no
git): a pong, the reason it is ignored, or the apps that get a deployment of its commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from controller.deploy.queue import CommitRef
from webhooks.payload import parse_ping, parse_push

SKIP_MARKERS = ("[skip deploy]", "[deploy skip]", "[skip ci]", "[ci skip]")
DEPLOYED = 200
IGNORED = 202


@dataclass(frozen=True)
class Answer:
    status: int
    message: str
    data: dict[str, Any]


@dataclass(frozen=True)
class AppRoute:
    """What routing a delivery needs of an app: read as plain values, not as a model instance,
    since every batch reads every app with a repository."""

    id: int
    name: str
    git_repository: str
    git_branch: str
    auto_deploy: bool


ROUTE_FIELDS = tuple(field.name for field in fields(AppRoute))  # the App columns read


@dataclass(frozen=True)
class Plan:
    """The answer a delivery gets; `targets` are the apps that get a deployment of `commit`."""

    answer: Answer
    targets: tuple[AppRoute, ...] = ()
    commit: CommitRef | None = None


def plan(
    event: str,
    payload: Mapping[str, Any],
    apps: list[AppRoute],
    delivery_id: str,
    app_name: str | None = None,
) -> Plan:
    """Decide what the delivery does (pure: no database, no git). `apps` are those of its
    repository that it may deploy: all of them, or only `app_name` on that app's own URL."""
    base: dict[str, Any] = {"event": event, "delivery": delivery_id or None}
    if event == "ping":
        ping = parse_ping(payload)
        return Plan(Answer(DEPLOYED, "pong", {**base, "zen": ping.zen, "hookId": ping.hook_id}))
    if event != "push":
        return _ignored(base, f"event '{event}' is ignored; fogbank acts on push and ping")
    push = parse_push(payload)
    repository = push.repository_name or "this repository"
    base.update(ref=push.ref, commit=push.after, repository=push.repository_name or None)
    branch = push.branch
    if branch is None:
        kind = "tag" if push.ref.startswith("refs/tags/") else "non-branch ref"
        return _ignored(base, f"{kind} {push.ref} is not deployed; only branches are")
    if push.is_deletion:
        return _ignored(base, f"branch '{branch}' was deleted; there is nothing to deploy")
    nobody = "no app tracks" if app_name is None else f"app '{app_name}' does not track"
    if not apps:
        return _ignored(base, f"{nobody} {repository}")
    tracking = [app for app in apps if app.git_branch == branch]
    if not tracking:
        return _ignored(base, f"{nobody} branch '{branch}' of {repository}")
    targets = tuple(app for app in tracking if app.auto_deploy)
    if not targets:
        names = ", ".join(app.name for app in tracking)
        return _ignored(base, f"autoDeploy is off for {names}; nothing was deployed")
    head = push.head_commit
    message = head.message if head else ""
    marker = next((m for m in SKIP_MARKERS if m in message.lower()), None)
    if marker is not None:
        return _ignored(base, f"head commit {push.after[:7]} asks to skip deploys ({marker})")
    commit = CommitRef(push.after, message, head.author if head else "")
    count = len(targets)
    answer = Answer(
        DEPLOYED,
        f"queued {count} deployment{'s' if count != 1 else ''} of {push.after[:7]} "
        f"from branch '{branch}'",
        {**base, "ignored": None, "deployments": []},
    )
    return Plan(answer, targets, commit)


def with_deployments(answer: Answer, listed: list[dict[str, Any]]) -> Answer:
    """The planned answer with what the door did; when every app already had the commit
    (pending, running or active: a replay or a twin push), it is ignored with that reason."""
    data = {**answer.data, "deployments": listed}
    if any(entry["created"] for entry in listed):
        return replace(answer, data=data)
    names = ", ".join(entry["appName"] for entry in listed)
    reason = (
        f"commit {str(data.get('commit', ''))[:7]} is already queued, running or active for {names}"
    )
    return Answer(IGNORED, reason, {**data, "ignored": reason})


def _ignored(base: dict[str, Any], reason: str) -> Plan:
    return Plan(Answer(IGNORED, reason, {**base, "ignored": reason, "deployments": []}))
