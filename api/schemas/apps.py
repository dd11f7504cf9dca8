"""An app's settings, declared once in AppSpec; the create and update requests and the answer are
derived from it. A new setting is a field here (and a column in controller/store/models.py)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, Strict, field_serializer, model_validator
from quart import current_app, has_app_context

from api.schemas.base import AnswerModel, Id, QueryId, QueryModel, RequestModel, Timestamp, rule
from api.schemas.derive import with_answer_fields, with_spec_fields
from controller.apps import validation
from controller.events.deployment_logs import MASK
from controller.runtime import restart_policy, volumes
from controller.runtime.naming import volume_name
from controller.store.models import App, AppType, UpdateOrder
from controller.upkeep import polling
from controller.upkeep.drift import Health, Sync

ALLOW_LOCAL_CONFIG_KEY = "FOGBANK_GIT_ALLOW_LOCAL"


def _repository(url: str) -> str:
    # file:// and paths only when git.allow_local; outside a running app, never.
    allow_local = has_app_context() and bool(current_app.config.get(ALLOW_LOCAL_CONFIG_KEY))
    return validation.repository(url, allow_local=allow_local)


def _relative(field: str) -> Any:
    return rule(lambda value: validation.relative_path(field, value))


class VolumeIn(RequestModel):
    """A named Docker volume the app owns, mounted at mountPath; kept across deploys."""

    name: Annotated[str, Field(pattern=validation.VOLUME_NAME.pattern, examples=["uploads"])]
    mount_path: Annotated[str, Field(pattern="^/", max_length=1024, examples=["/data/uploads"])]


class VolumeOut(AnswerModel):
    name: str
    mount_path: str
    docker_volume: str


def _volumes(items: list[VolumeIn]) -> list[VolumeIn]:
    validation.volumes([item.model_dump() for item in items])
    return items


class AppSpec(RequestModel):
    """Every setting of an app that a user may give, with its rules."""

    name: Annotated[
        str,
        rule(validation.app_name),
        Field(json_schema_extra={"pattern": validation.APP_NAME.pattern}, examples=["web"]),
    ]
    app_type: Annotated[AppType, Strict(False)]
    git_repository: Annotated[
        str,
        rule(_repository),
        Field(
            description="https://, ssh:// or git@host:path (file:// with git.allow_local)",
            json_schema_extra={"minLength": 1},
            examples=["https://github.com/acme/web.git"],
        ),
    ]
    git_branch: Annotated[str, rule(validation.branch), Field(min_length=1)]
    root_directory: Annotated[
        str,
        _relative("rootDirectory"),
        Field(min_length=1, description="the build context, relative to the repository"),
    ]
    dockerfile_path: Annotated[
        str,
        _relative("dockerfilePath"),
        Field(min_length=1, description="relative to rootDirectory"),
    ]
    port: Annotated[int, Field(ge=1, le=65535, description="the port the container listens on")]
    public_port: (
        Annotated[
            int, Field(ge=1024, le=65535, description="the loopback port the edge serves it on")
        ]
        | None
    )
    health_check_path: Annotated[
        str,
        rule(lambda value: validation.http_path("healthCheckPath", value)),
        Field(json_schema_extra={"pattern": validation.HTTP_PATH.pattern}),
    ]
    health_timeout_seconds: Annotated[int, Field(ge=1, le=600)]
    auto_deploy: bool
    template_name: str
    restart_policy: Annotated[
        str,
        rule(validation.restart_policy),
        Field(json_schema_extra={"pattern": restart_policy.PATTERN.pattern}),
    ]
    memory_limit_mb: Annotated[int, Field(ge=1, le=1024 * 1024)] | None
    poll_interval_seconds: Annotated[
        int,
        rule(polling.check_interval),
        Field(
            description="0 (off) or a number of seconds",
            json_schema_extra={
                "anyOf": [
                    {"enum": [0]},
                    {
                        "minimum": polling.MIN_INTERVAL_SECONDS,
                        "maximum": polling.MAX_INTERVAL_SECONDS,
                    },
                ]
            },
        ),
    ]
    update_order: Annotated[UpdateOrder, Strict(False)]
    stabilization_seconds: Annotated[int, Field(ge=0, le=600)]
    image: Annotated[
        str,
        rule(validation.image),
        Field(
            description="deploy this image instead of building a repository",
            examples=["registry.example.com/team/api:1.4"],
        ),
    ]
    registry_username: Annotated[str, Field(description="for the image's registry")]
    registry_password: Annotated[
        str, Field(description="write-only: stored, answered as ******** when set")
    ]
    volumes: Annotated[
        list[VolumeIn],
        Field(max_length=validation.MAX_VOLUMES, description="kept across deploys"),
        rule(_volumes),
    ]
    link_database: Annotated[
        Id | None,
        Field(description="a database app whose connection this app gets as DATABASE_* env vars"),
    ]


@with_spec_fields(AppSpec, App, required=("name",))
class AppCreate(RequestModel):
    """A new app: a name, and a repository unless it is a database template."""


@with_spec_fields(AppSpec, App, defaults=False)
class AppUpdate(RequestModel):
    """The settings to change; the name is fixed (containers and images carry it)."""

    app_id: Id


class AppRef(RequestModel):
    app_id: Id


class AppEventsRequest(RequestModel):
    app_id: Id
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


@with_answer_fields(AppSpec)
class AppOut(AnswerModel):
    """An app (snake_case); credentials in its repository URL are never shown."""

    id: int
    cpu_limit: float | None
    deploy_public_key: str = Field(
        description="add it to the repository as a read-only deploy key for ssh remotes"
    )
    git_has_credentials: bool = Field(
        description="credentials were given in gitRepository (never shown; send the URL with "
        "new ones to replace them)"
    )
    volumes: list[VolumeOut]
    registry_password: str
    link_database: int | None
    health_command: list[str]
    created_at: Timestamp
    updated_at: Timestamp

    @model_validator(mode="before")
    @classmethod
    def _from_app(cls, value: Any) -> Any:
        """An App row: its volumes with their Docker names, and its link."""
        if not isinstance(value, App):
            return value
        found = {name: getattr(value, name) for name in cls.model_fields if hasattr(value, name)}
        found["volumes"] = [
            {**v, "docker_volume": volume_name(value.name, v["name"])}
            for v in volumes.declared(value)
        ]
        found["link_database"] = value.linked_database_id
        return found

    @field_serializer("git_repository", check_fields=False)
    def _redacted(self, url: str) -> str:
        return validation.redact_url(url)

    @field_serializer("registry_password")
    def _masked(self, password: str) -> str:
        return MASK if password else ""


class AppState(AppOut):
    """An app with what the reconciler last saw: sync and health, reported apart."""

    sync: Sync
    health: Health
    sync_detail: str
    checked_at: str | None


class WebhookSettings(AnswerModel):
    """What GitHub's "Add webhook" form asks for."""

    secret: str
    payloadUrl: str
    contentType: str
    events: list[str]


class DeployKeyRequest(RequestModel):
    app_id: Id
    rotate: bool = Field(default=False, description="replace the key pair with a new one")


class DeployKey(AnswerModel):
    """The app's public ssh key; the private key never leaves fogbank."""

    public_key: str


class AppFeedQuery(QueryModel):
    """WS /ws/apps/deployments: the app whose deployments to announce."""

    app_id: QueryId
    token: str | None = Field(
        default=None, description="an API token, for clients that cannot set headers"
    )


class AppDelete(RequestModel):
    app_id: Id
    delete_volumes: Annotated[
        bool, Field(description="also remove its volumes (kept by default)")
    ] = False


class AppDeleted(AnswerModel):
    """The app's volumes: kept (a new app of the same name finds them), or removed."""

    id: int
    volumes_kept: list[str]
    volumes_removed: list[str]


class Connection(AnswerModel):
    """How to reach a database app; the password is never shown."""

    app_id: int
    template: str
    host: str
    port: int
    user: str
    database: str
    password: str
    url: str
    public_address: str | None
    env_prefix: str
