"""The two list answers read most (an app's history, every app) built from plain row values
(api/rawrows.py, one fixed SQL text each): no model instance per row (Tortoise sets and checks
every field of each, and opens each sealed column), no query built and no value parsed per
request, no pydantic model per row, then one JSON encode of the whole envelope by the app's
own provider, as Quart encodes any other answer. The fields are the answer models' own
(DeploymentOut, AppState); tests/test_plain_answers.py pins that the bytes equal what those
models give."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from quart import Response, current_app
from tortoise import connections

from api.envelope import ok_body
from api.rawrows import Columns, Row
from api.schemas.apps import AppOut
from api.schemas.deployments import DeploymentOut
from controller.apps.validation import redact_url
from controller.events.deployment_logs import MASK
from controller.runtime.naming import volume_name
from controller.runtime.volumes import declared_of
from controller.store.models import App, AppType, Deployment
from controller.upkeep.drift import AppState as DriftState

DEPLOYMENTS = Columns(Deployment, tuple(DeploymentOut.model_fields))
# git_has_credentials and registry_password (answered masked) are whether the sealed column
# holds anything: asked of the database, so no secret is unsealed to answer them.
ASKED = {"git_has_credentials", "registry_password", "link_database"}
APPS = Columns(App, tuple(name for name in AppOut.model_fields if name not in ASKED))


# Every name below comes from the models; the request's values are bound parameters.
@cache
def apps_sql() -> str:
    return (
        f'SELECT {APPS.select}, length("git_credential") > 0 AS "git_has_credentials", '  # noqa: S608
        'length("registry_password") > 0 AS "registry_password", '
        f'"linked_database_id" AS "link_database" FROM "{APPS.table}" ORDER BY "id"'
    )


@cache
def history_sql(older: bool, numbered: bool) -> str:
    """An app's deployments newest first, a page of them (older than an id if `older`); the
    parameters as `$1, $2, ...` when `numbered` (PostgreSQL), else `?` (SQLite)."""
    marks = [f"${n}" for n in (1, 2, 3)] if numbered else ["?"] * 3
    if older:  # parameters: the app's id, the id to go below, the page size
        app, before, limit = marks
        condition = f' AND "id" < {before}'
    else:
        app, limit, condition = marks[0], marks[1], ""
    return (
        f'SELECT {DEPLOYMENTS.select} FROM "{DEPLOYMENTS.table}" '  # noqa: S608
        f'WHERE "app_id" = {app}{condition} ORDER BY "id" DESC LIMIT {limit}'
    )


def listing(items: Iterable[dict[str, Any]], message: str) -> Response:
    """The envelope around `items`, encoded once."""
    response: Response = current_app.json.response(ok_body(list(items), message))  # type: ignore[assignment]  # Quart's own response_class
    return response


async def history_rows(app_id: int, limit: int, before: int | None = None) -> list[Row]:
    """The app's deployments as DeploymentOut's fields, newest first."""
    params = [app_id, limit] if before is None else [app_id, before, limit]
    numbered = connections.get("default").capabilities.dialect == "postgres"
    return await DEPLOYMENTS.read(history_sql(before is not None, numbered), params)


async def app_rows(state: Callable[[int], DriftState]) -> list[Row]:
    """Every app as AppState's fields (the reconciler's view from `state`), by id."""
    found = []
    for answer in await APPS.read(apps_sql(), []):
        answer["git_repository"] = redact_url(answer["git_repository"])
        answer["git_has_credentials"] = bool(answer["git_has_credentials"])
        answer["registry_password"] = MASK if answer["registry_password"] else ""
        answer["volumes"] = [
            {**v, "docker_volume": volume_name(answer["name"], v["name"])}
            for v in declared_of(AppType(answer["app_type"]), answer["volumes"])
        ]
        seen = state(answer["id"])
        answer.update(
            sync=seen.sync, health=seen.health, sync_detail=seen.detail, checked_at=seen.checked_at
        )
        found.append(answer)
    return found
