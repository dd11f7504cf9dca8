"""The two list answers read most (an app's history, every app) built from plain row values:
no model instance per row (Tortoise sets and checks every field of each, and opens each sealed
column) and no pydantic model per row, then one JSON encode of the whole envelope by the app's
own provider, as Quart encodes any other answer. The fields are the answer models' own
(DeploymentOut, AppState); tests/test_plain_answers.py pins that the bytes equal what those
models give."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from quart import Response, current_app
from tortoise.expressions import RawSQL
from tortoise.fields import DatetimeField
from tortoise.models import Model
from tortoise.queryset import QuerySet

from api.envelope import ok_body
from api.schemas.apps import AppOut
from api.schemas.deployments import DeploymentOut
from controller.apps.validation import redact_url
from controller.store.models import App, Deployment
from controller.store.timefmt import iso_z
from controller.upkeep.drift import AppState as DriftState

DEPLOYMENT_FIELDS = tuple(DeploymentOut.model_fields)
# git_has_credentials is whether the sealed column holds anything: asked of the database, so
# no credential is unsealed to answer it.
APP_COLUMNS = tuple(name for name in AppOut.model_fields if name != "git_has_credentials")
HAS_CREDENTIALS = RawSQL('length("git_credential") > 0')


def datetime_fields(model: type[Model], names: tuple[str, ...]) -> tuple[str, ...]:
    """Which of `names` are the model's datetime columns: the only values `plain` changes."""
    return tuple(n for n in names if isinstance(model._meta.fields_map.get(n), DatetimeField))


DEPLOYMENT_TIMES = datetime_fields(Deployment, DEPLOYMENT_FIELDS)
APP_TIMES = datetime_fields(App, APP_COLUMNS)


def plain(row: dict[str, Any], times: tuple[str, ...]) -> dict[str, Any]:
    """A row's values as the answer models dump them: its `times` as the seed writes them."""
    for name in times:
        moment = row[name]
        if moment is not None:
            row[name] = iso_z(moment)
    return row


def listing(items: Iterable[dict[str, Any]], message: str) -> Response:
    """The envelope around `items`, encoded once."""
    response: Response = current_app.json.response(ok_body(list(items), message))  # type: ignore[assignment]  # Quart's own response_class
    return response


async def history_rows(query: QuerySet[Deployment]) -> list[dict[str, Any]]:
    """The deployments of `query` as DeploymentOut's fields."""
    return [plain(row, DEPLOYMENT_TIMES) for row in await query.values(*DEPLOYMENT_FIELDS)]


async def app_rows(state: Callable[[int], DriftState]) -> list[dict[str, Any]]:
    """Every app as AppState's fields (the reconciler's view from `state`), by id."""
    rows = (
        await App.all()
        .order_by("id")
        .annotate(git_has_credentials=HAS_CREDENTIALS)
        .values(*APP_COLUMNS, "git_has_credentials")
    )
    found = []
    for row in rows:
        answer = plain(row, APP_TIMES)
        answer["git_repository"] = redact_url(answer["git_repository"])
        answer["git_has_credentials"] = bool(answer["git_has_credentials"])
        seen = state(answer["id"])
        answer.update(
            sync=seen.sync, health=seen.health, sync_detail=seen.detail, checked_at=seen.checked_at
        )
        found.append(answer)
    return found
