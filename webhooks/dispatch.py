"""What one GitHub delivery does, decided without any git or docker work.

The payload is parsed only to find the apps of its repository (their secrets may sign it);
nothing is recorded or enqueued before the signature is valid. A push to a tracked branch
enqueues one `webhook` deployment of `after` per matching auto-deploy app, and the delivery's
answer is recorded under its X-GitHub-Delivery id in the same transaction, so a redelivery
answers the same and enqueues nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from controller.errors import BadRequest, Unauthorized
from controller.models import App, Trigger, WebhookDelivery
from controller.queue import CommitRef, enqueue
from webhooks.payload import (
    decode,
    normalise_repository,
    parse_ping,
    parse_push,
    repository_keys,
)
from webhooks.signature import verify

SKIP_MARKERS = ("[skip deploy]", "[deploy skip]", "[skip ci]", "[ci skip]")
MAX_DELIVERY_ID_LENGTH = 128  # the column's size; GitHub's GUIDs are 36
DEPLOYED = 200
IGNORED = 202


@dataclass(frozen=True)
class Delivery:
    """One webhook request as received: headers that matter and the raw body."""

    event: str
    delivery_id: str
    signature: str | None
    body: bytes
    content_type: str = "application/json"


@dataclass(frozen=True)
class Answer:
    status: int
    message: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    """The answer a delivery gets; `targets` are the apps that get a deployment of `commit`."""

    answer: Answer
    targets: tuple[App, ...] = ()
    commit: CommitRef | None = None


async def handle(delivery: Delivery, *, global_secret: str, wake: Callable[[], None]) -> Answer:
    """Verify, de-duplicate, decide and enqueue; raise Unauthorized/BadRequest on bad input."""
    if len(delivery.delivery_id) > MAX_DELIVERY_ID_LENGTH:
        raise BadRequest("X-GitHub-Delivery is too long")
    payload = decode(delivery.body, delivery.content_type)
    apps = await repository_apps(repository_keys(payload))
    if not verify(delivery.body, delivery.signature, [global_secret, *_secrets(apps)]):
        raise Unauthorized(
            "X-Hub-Signature-256 is missing or does not match a configured webhook secret"
        )
    if delivery.delivery_id and (replay := await recorded_answer(delivery.delivery_id)):
        return replay
    decided = plan(delivery.event, payload, apps, delivery.delivery_id)
    try:
        answer, enqueued = await _execute(delivery, decided)
    except IntegrityError:
        # A concurrent request with the same delivery id committed first; answer as it did.
        replay = await recorded_answer(delivery.delivery_id)
        if replay is None:
            raise
        return replay
    if enqueued:
        wake()
    return answer


async def repository_apps(keys: Iterable[str]) -> list[App]:
    """Every app whose git repository is one of the normalised `keys` (any branch)."""
    wanted = set(keys)
    if not wanted:
        return []
    apps = await App.exclude(git_repository="").order_by("id")
    return [app for app in apps if normalise_repository(app.git_repository) in wanted]


async def recorded_answer(delivery_id: str) -> Answer | None:
    """The answer already given to this delivery id, or None when it is new."""
    record = await WebhookDelivery.get_or_none(delivery_id=delivery_id)
    if record is None:
        return None
    stored = json.loads(record.response)
    return Answer(record.status_code, str(stored["message"]), dict(stored["data"]))


def plan(event: str, payload: Mapping[str, Any], apps: list[App], delivery_id: str) -> Plan:
    """Decide what the delivery does (pure: no database, no git)."""
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
    if not apps:
        return _ignored(base, f"no app tracks {repository}")
    tracking = [app for app in apps if app.git_branch == branch]
    if not tracking:
        return _ignored(base, f"no app tracks branch '{branch}' of {repository}")
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


def _ignored(base: dict[str, Any], reason: str) -> Plan:
    return Plan(Answer(IGNORED, reason, {**base, "ignored": reason, "deployments": []}))


def _secrets(apps: Iterable[App]) -> list[str]:
    return [app.webhook_secret for app in apps if app.webhook_secret]


async def _execute(delivery: Delivery, decided: Plan) -> tuple[Answer, bool]:
    """Enqueue the plan's deployments and record the answer, atomically.

    A concurrent twin of the delivery that committed first makes the record's insert fail
    (unique delivery_id), which rolls the deployments back too.
    """
    async with in_transaction():
        made: list[dict[str, Any]] = []
        if decided.commit is not None:
            for app in decided.targets:
                deployment = await enqueue(app, decided.commit, Trigger.WEBHOOK)
                made.append(
                    {
                        "appId": app.id,
                        "appName": app.name,
                        "deploymentId": deployment.id,
                        "deploymentNumber": deployment.deployment_number,
                    }
                )
        answer = decided.answer
        if made:
            answer = replace(answer, data={**answer.data, "deployments": made})
        if delivery.delivery_id:
            await WebhookDelivery.create(
                delivery_id=delivery.delivery_id,
                event=delivery.event[:64],
                status_code=answer.status,
                response=json.dumps({"message": answer.message, "data": answer.data}),
            )
    return answer, bool(made)
