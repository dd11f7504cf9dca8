"""The seed's deployment object, written once, and the requests that name deployments."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from api.schemas.base import (
    AnswerModel,
    Id,
    QueryCount,
    QueryId,
    QueryModel,
    RequestModel,
    Timestamp,
    rule,
)
from controller.apps import validation
from controller.store.models import Stage, Status, Trigger

MAX_PAGE = 200
DEFAULT_PAGE = 50


class DeploymentOut(AnswerModel):
    """A deployment, with the seed's field names (snake_case)."""

    id: int
    app_id: int
    deployment_number: int
    commit_hash: str
    commit_message: str | None
    commit_author: str | None
    triggered_by: Trigger
    status: Status
    stage: Stage
    progress: Annotated[int, Field(ge=0, le=100)]
    error_message: str | None
    image_tag: str | None
    image_ref: str | None
    image_digest: str | None
    container_id: str | None
    is_active: bool
    rolled_back_from: int | None
    duration: int | None
    created_at: Timestamp
    started_at: Timestamp
    finished_at: Timestamp
    updated_at: Timestamp


class DeploymentAdd(RequestModel):
    """Deploy the branch head, or the commit named (it must be on a branch of the repository,
    unless an admin sets allowUnreachable); an image app its image, or the one named."""

    app_id: Id
    commit_hash: (
        Annotated[
            str,
            rule(validation.commit),
            Field(json_schema_extra={"pattern": validation.COMMIT.pattern}),
        ]
        | None
    ) = None
    allow_unreachable: bool = Field(
        default=False,
        description="admins only: deploy commitHash (a full sha) even when no branch reaches it, "
        "e.g. a pull request's head",
    )
    image: (
        Annotated[
            str,
            rule(validation.image),
            Field(max_length=1024, examples=["registry.example.com/team/api:1.5"]),
        ]
        | None
    ) = None


class DeploymentRef(RequestModel):
    deployment_id: Id


class HistoryPage(RequestModel):
    """Newest first, `limit` at a time; `before` pages on from the last id seen."""

    app_id: Id
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE
    before: Id | None = None


class DeploymentLog(AnswerModel):
    deployment: DeploymentOut
    logs: str


class LogStreamQuery(QueryModel):
    """WS /ws/deployment/logs: the deployment, and the last log line already seen."""

    deployment_id: QueryId
    after: QueryCount = 0
    batch: bool = Field(
        default=False,
        description="1: log lines come several to a frame, "
        '{"type": "logs", "timestamp", "data": {"lines": [{"line", "seq"}, ...]}}',
    )
    token: str | None = Field(
        default=None, description="an API token, for clients that cannot set headers"
    )
