"""What each route accepts, declared once per endpoint for GET /openapi.json: the camelCase JSON
body fields (type, required, bounds), query parameters, the success status, the error statuses
it can answer and the minimum role. The handlers stay the authority; tests/test_openapi.py keeps
this table in step with the URL map and the apps FIELDS table, and schemathesis checks the
answers against it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from api.body import INT64_MAX
from controller.apps import validation
from controller.store.models import AppType, Role, UpdateOrder
from controller.upkeep import polling

# Statuses any authenticated JSON route can answer besides its own: bad JSON, no or bad
# credentials, role too low (or CSRF), body too large, failed validation.
COMMON_ERRORS = (400, 401, 403, 413, 422)

Answer = Literal["envelope", "deployment", "log", "document", "websocket"]


@dataclass(frozen=True)
class Field:
    schema: dict[str, Any]
    required: bool = False


@dataclass(frozen=True)
class RouteSpec:
    summary: str
    role: Role | None = Role.VIEWER  # None: public
    body: Mapping[str, Field] | None = None  # None: the route reads no body
    open_body: bool = False  # any JSON object (the GitHub payload), not a closed field list
    query: Mapping[str, Field] = field(default_factory=dict)
    status: int = 200
    errors: tuple[int, ...] = ()
    answer: Answer = "envelope"


def integer(
    *, required: bool = False, minimum: int = 1, maximum: int = INT64_MAX, nullable: bool = False
) -> Field:
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum, "maximum": maximum}
    if nullable:
        schema["nullable"] = True
    return Field(schema, required)


def text(*, required: bool = False, nullable: bool = False, **constraints: Any) -> Field:
    schema: dict[str, Any] = {"type": "string", **constraints}
    if nullable:
        schema["nullable"] = True
    return Field(schema, required)


def choice(values: tuple[str, ...], *, required: bool = False) -> Field:
    return Field({"type": "string", "enum": list(values)}, required)


def boolean(*, required: bool = False) -> Field:
    return Field({"type": "boolean"}, required)


def app_id() -> dict[str, Field]:
    return {"appId": integer(required=True)}


# The request keys of api/routes/apps.py's FIELDS, with the bounds its validators enforce.
APP_FIELDS: dict[str, Field] = {
    "name": text(pattern=validation.APP_NAME.pattern, maxLength=63),
    "appType": choice(tuple(AppType)),
    "gitRepository": text(minLength=1, description="https://, ssh://, git@host:path"),
    "gitBranch": text(minLength=1, maxLength=255),
    "rootDirectory": text(minLength=1, description="relative path inside the repository"),
    "dockerfilePath": text(minLength=1, description="relative to rootDirectory"),
    "port": integer(maximum=65535),
    "publicPort": integer(minimum=1024, maximum=65535, nullable=True),
    "healthCheckPath": text(pattern="^/[^\\s#]*$"),
    "healthTimeoutSeconds": integer(maximum=600),
    "autoDeploy": boolean(),
    "templateName": text(),
    "restartPolicy": choice(("no", "always", "unless-stopped", "on-failure")),
    "memoryLimitMb": integer(maximum=1024 * 1024, nullable=True),
    "pollIntervalSeconds": Field(
        {
            "type": "integer",
            "description": "0 (off) or a number of seconds",
            "anyOf": [
                {"enum": [0]},
                {
                    "minimum": polling.MIN_INTERVAL_SECONDS,
                    "maximum": polling.MAX_INTERVAL_SECONDS,
                },
            ],
        }
    ),
    "updateOrder": choice(tuple(UpdateOrder)),
    "stabilizationSeconds": integer(minimum=0, maximum=600),
}


def _app_create() -> dict[str, Field]:
    fields = dict(APP_FIELDS)
    fields["name"] = Field(fields["name"].schema, required=True)
    return fields


CREDENTIALS = {
    "username": text(required=True, pattern="^[A-Za-z0-9_.-]{1,64}$"),
    "password": text(required=True, minLength=1),
}
ENV_FLAGS = {"isSecret": boolean(), "isBuildArg": boolean()}
ENV_VALUE = text(maxLength=32 * 1024, description="masked in every answer when isSecret")

ROUTES: dict[str, RouteSpec] = {
    "health.health": RouteSpec("Liveness (no auth)", role=None),
    "openapi.document": RouteSpec("This document (no auth)", role=None, answer="document"),
    "auth.login": RouteSpec(
        "Log in; sets the session cookie", role=None, body=CREDENTIALS, errors=(401, 429)
    ),
    "auth.signup": RouteSpec(
        "Create the first user (admin) while none exists",
        role=None,
        body=CREDENTIALS,
        status=201,
        errors=(403, 409),
    ),
    "auth.logout": RouteSpec("End the session of the cookie"),
    "auth.me": RouteSpec("The caller"),
    "auth.create_token": RouteSpec(
        "An API token with the caller's role, shown once",
        body={"name": text(required=True, minLength=1, maxLength=64)},
        status=201,
    ),
    "apps.create": RouteSpec(
        "Create an app", role=Role.ADMIN, body=_app_create(), status=201, errors=(409,)
    ),
    "apps.get_by_id": RouteSpec("One app", body=app_id(), errors=(404,)),
    "apps.get_all": RouteSpec("Every app"),
    "apps.events": RouteSpec(
        "The app's event log (drift found and repaired), newest last",
        body={**app_id(), "limit": integer(maximum=1000)},
        errors=(404,),
    ),
    "apps.update": RouteSpec(
        "Change an app's settings",
        role=Role.ADMIN,
        body={**app_id(), **APP_FIELDS},
        errors=(404, 409),
    ),
    "apps.delete": RouteSpec(
        "Delete an app with its containers, images, mirror and logs",
        role=Role.ADMIN,
        body=app_id(),
        errors=(404, 409, 503),
    ),
    "envs.create": RouteSpec(
        "Add an env var (a secret cannot be a build arg)",
        role=Role.ADMIN,
        body={
            **app_id(),
            "key": text(required=True, pattern=validation.ENV_KEY.pattern),
            "value": ENV_VALUE,
            **ENV_FLAGS,
        },
        status=201,
        errors=(404, 409),
    ),
    "envs.get": RouteSpec("An app's env vars, secrets masked", body=app_id(), errors=(404,)),
    "envs.update": RouteSpec(
        "Change an env var",
        role=Role.ADMIN,
        body={"envId": integer(required=True), "value": ENV_VALUE, **ENV_FLAGS},
        errors=(404,),
    ),
    "envs.delete": RouteSpec(
        "Delete an env var", role=Role.ADMIN, body={"envId": integer(required=True)}, errors=(404,)
    ),
    "domains.create": RouteSpec(
        "Route a host name to a web app",
        role=Role.ADMIN,
        body={**app_id(), "hostname": text(required=True, minLength=1, maxLength=253)},
        status=201,
        errors=(404, 409),
    ),
    "domains.get": RouteSpec("An app's domains", body=app_id(), errors=(404,)),
    "domains.delete": RouteSpec(
        "Remove a domain", role=Role.ADMIN, body={"domainId": integer(required=True)}, errors=(404,)
    ),
    "containers.start": RouteSpec(
        "Start the active container", role=Role.DEPLOYER, body=app_id(), errors=(404, 409, 503)
    ),
    "containers.stop": RouteSpec(
        "Stop the active container", role=Role.DEPLOYER, body=app_id(), errors=(404, 409, 503)
    ),
    "containers.restart": RouteSpec(
        "Restart the active container", role=Role.DEPLOYER, body=app_id(), errors=(404, 409, 503)
    ),
    "containers.status": RouteSpec(
        "State of the active container",
        query={"appId": text(required=True, pattern="^[0-9]{1,18}$")},
        errors=(404, 409, 503),
    ),
    "deployments.add": RouteSpec(
        "Queue a deployment of the branch head or of commitHash (the seed's bare object)",
        role=Role.DEPLOYER,
        body={**app_id(), "commitHash": text(pattern="^[0-9a-fA-F]{7,40}$")},
        errors=(404, 409),
        answer="deployment",
    ),
    "deployments.stop": RouteSpec(
        "Stop a deployment (409 once traffic switched)",
        role=Role.DEPLOYER,
        body={"deploymentId": integer(required=True)},
        errors=(404, 409, 503),
    ),
    "deployments.rollback": RouteSpec(
        "Queue a return to an earlier successful deployment",
        role=Role.DEPLOYER,
        body={"deploymentId": integer(required=True)},
        errors=(404, 409),
    ),
    "deployments.get_by_app_id": RouteSpec(
        "An app's deployments, newest first",
        body={
            **app_id(),
            "limit": integer(maximum=200),
            "before": integer(),
        },
        errors=(404,),
    ),
    "deployments.logs": RouteSpec(
        "The build log: text/plain, or the envelope with Accept: application/json",
        errors=(404,),
        answer="log",
    ),
    "ws.deployment_logs": RouteSpec(
        "WebSocket: status frame, the log so far, live frames; close 4401/4403/4404",
        query={
            "deploymentId": text(required=True, pattern="^[0-9]+$"),
            "after": text(pattern="^[0-9]+$"),
            "token": text(description="API token, for clients that cannot set headers"),
        },
        answer="websocket",
    ),
    "webhooks.github": RouteSpec(
        "GitHub webhook receiver (authenticated by X-Hub-Signature-256)",
        role=None,
        body={},
        open_body=True,
        errors=(202, 400, 401, 413),
    ),
    "webhooks.app_webhook": RouteSpec(
        "The app's webhook secret and payload URL for GitHub",
        role=Role.ADMIN,
        body=app_id(),
        errors=(404,),
    ),
}
