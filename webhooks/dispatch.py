"""What GitHub deliveries do, decided without any git or docker work.

A delivery reaches this module only after its signature matched the secret of the URL it came
to (webhooks/reception.py). An app's own secret (its URL) can deploy only that app; the global
secret every auto-deploy app of the one repository the delivery names. Deliveries are handled in
batches (webhooks/intake.py gathers the ones that arrive together): a burst of pushes then costs
a few database statements per batch instead of several per delivery, and each delivery still
gets its own answer. A push to a tracked branch enqueues one `webhook` deployment of `after` per
matching auto-deploy app, and the delivery's answer is recorded under its X-GitHub-Delivery id
(per URL) in the same transaction, so a redelivery answers the same and enqueues nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError

from controller.deploy import requests as door
from controller.deploy.queue import Enqueued
from controller.deploy.requests import DeploymentRequest, RequestFn
from controller.errors import BadRequest, FogbankError
from controller.store.bulk import insert_rows
from controller.store.models import App, Trigger, WebhookDelivery
from webhooks.payload import app_repository_key, decode, repository_key
from webhooks.plan import ROUTE_FIELDS, Answer, AppRoute, Plan, plan, with_deployments

# GitHub's GUIDs are 36; with the app's name (at most 63) and "/", a recorded id fits the
# column's 128.
MAX_DELIVERY_ID_LENGTH = 64


@dataclass(frozen=True)
class Delivery:
    """One webhook request as received: headers that matter and the raw body."""

    event: str
    delivery_id: str
    signature: str | None
    body: bytes
    content_type: str = "application/json"


@dataclass(frozen=True)
class Received:
    """A verified delivery whose body parsed: its payload, the key of the one repository it
    names, and the app whose own secret signed it (None: the global secret)."""

    delivery: Delivery
    payload: dict[str, Any]
    repository_key: str | None
    app_name: str | None = None

    @property
    def record_key(self) -> str:
        """Its X-GitHub-Delivery id as recorded: apart per app URL, so a delivery id used on
        one app's URL never answers for another's."""
        delivery_id = self.delivery.delivery_id
        if not delivery_id or self.app_name is None:
            return delivery_id
        return f"{self.app_name}/{delivery_id}"


Outcome = Answer | FogbankError
Planned = tuple[int, Received, Plan]  # index in the batch, the delivery, its plan


def receive(delivery: Delivery, app_name: str | None = None) -> Received:
    """Parse a delivery whose signature matched (the global secret's when `app_name` is None,
    else that app's); BadRequest for a body that is not a payload of one repository."""
    if len(delivery.delivery_id) > MAX_DELIVERY_ID_LENGTH:
        raise BadRequest("X-GitHub-Delivery is too long")
    payload = decode(delivery.body, delivery.content_type)
    return Received(delivery, payload, repository_key(payload), app_name)


async def handle(received: Received, *, request: RequestFn) -> Answer:
    """One verified delivery on its own: de-duplicate, decide and enqueue."""
    outcomes, _ = await handle_batch([received], request=request)
    outcome = outcomes[0]
    if isinstance(outcome, FogbankError):
        raise outcome
    return outcome


async def handle_batch(
    batch: Sequence[Received], *, request: RequestFn
) -> tuple[list[Outcome], bool]:
    """Each delivery's answer (or the error it gets), in order, and whether anything was
    enqueued. A delivery id seen twice in one batch is handled once; the twin answers the same."""
    outcomes: list[Outcome | None] = [None] * len(batch)
    by_repository = await apps_by_repository()
    replays = await recorded_answers(item.record_key for item in batch)
    first_of: dict[str, int] = {}
    twins: dict[int, int] = {}
    planned: list[Planned] = []
    for index, item in enumerate(batch):
        key = item.record_key
        if key in replays:
            outcomes[index] = replays[key]
            continue
        if key in first_of:
            twins[index] = first_of[key]
            continue
        apps = by_repository.get(item.repository_key or "", [])
        if item.app_name is not None:  # an app's own secret reaches that app only
            apps = [app for app in apps if app.name == item.app_name]
        try:
            decided = plan(
                item.delivery.event, item.payload, apps, item.delivery.delivery_id, item.app_name
            )
        except FogbankError as exc:
            outcomes[index] = exc
            continue
        if key:
            first_of[key] = index
        planned.append((index, item, decided))
    answers, enqueued = await _execute_or_replay(planned, request)
    for index, answer in answers.items():
        outcomes[index] = answer
    for twin, first in twins.items():
        outcomes[twin] = outcomes[first]
    return [_settled(outcome) for outcome in outcomes], enqueued


async def apps_by_repository() -> dict[str, list[AppRoute]]:
    """Every app with a git repository, by the normalised key of that repository."""
    found: dict[str, list[AppRoute]] = defaultdict(list)
    rows = await App.exclude(git_repository="").order_by("id").values_list(*ROUTE_FIELDS)
    for row in rows:
        app = AppRoute(*row)
        key = app_repository_key(app.git_repository)
        if key:
            found[key].append(app)
    return found


async def recorded_answers(delivery_ids: Iterable[str]) -> dict[str, Answer]:
    """The answers already given to those of `delivery_ids` that were seen before."""
    wanted = sorted({delivery_id for delivery_id in delivery_ids if delivery_id})
    if not wanted:
        return {}
    return {
        record.delivery_id: _stored_answer(record)
        for record in await WebhookDelivery.filter(delivery_id__in=wanted)
    }


def _stored_answer(record: WebhookDelivery) -> Answer:
    stored = json.loads(record.response)
    return Answer(record.status_code, str(stored["message"]), dict(stored["data"]))


def _settled(outcome: Outcome | None) -> Outcome:
    if outcome is None:
        raise RuntimeError("a delivery of the batch got no answer")
    return outcome


async def _execute_or_replay(
    planned: list[Planned], request: RequestFn
) -> tuple[dict[int, Answer], bool]:
    """Execute the plans together; when a delivery id was recorded meanwhile by someone else
    (the unique index refuses the batch), execute them one by one so each twin answers as the
    recorded one did."""
    try:
        return await _execute(planned, request)
    except IntegrityError:
        if len(planned) > 1:
            answers: dict[int, Answer] = {}
            enqueued = False
            for one in planned:
                done, made = await _execute_or_replay([one], request)
                answers.update(done)
                enqueued |= made
            return answers, enqueued
        index, item, _ = planned[0]
        replay = (await recorded_answers([item.record_key])).get(item.record_key)
        if replay is None:
            raise
        return {index: replay}, False


async def _execute(planned: list[Planned], request: RequestFn) -> tuple[dict[int, Answer], bool]:
    """Request the plans' deployments through the controller's door and record the answers,
    in the door's one transaction.

    Requests go in the order the deliveries arrived, so numbering and "latest wins" see the same
    sequence as one-by-one handling would.
    """
    wanted: list[DeploymentRequest] = []
    owners: list[tuple[int, AppRoute]] = []  # batch index and app, per request
    for index, _, decided in planned:
        if decided.commit is not None:
            for app in decided.targets:
                wanted.append(DeploymentRequest(app.id, Trigger.WEBHOOK, decided.commit))
                owners.append((index, app))
    answers: dict[int, Answer] = {}

    async def record(outcomes: Sequence[door.Outcome]) -> None:
        listed: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for (index, app), outcome in zip(owners, outcomes, strict=True):
            listed[index].append(
                {
                    "appId": app.id,
                    "appName": app.name,
                    "deploymentId": outcome.id,
                    "deploymentNumber": outcome.deployment_number,
                    "created": isinstance(outcome, Enqueued),
                }
            )
        records: list[dict[str, Any]] = []
        for index, item, decided in planned:
            answer = decided.answer
            if listed[index]:
                answer = with_deployments(answer, listed[index])
            answers[index] = answer
            if item.record_key:
                records.append(
                    {
                        "delivery_id": item.record_key,
                        "event": item.delivery.event[:64],
                        "status_code": answer.status,
                        "response": json.dumps({"message": answer.message, "data": answer.data}),
                    }
                )
        await insert_rows(WebhookDelivery, records)

    outcomes = await request(wanted, record=record)
    return answers, any(isinstance(outcome, Enqueued) for outcome in outcomes)
