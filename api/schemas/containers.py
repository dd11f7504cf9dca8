"""The active container of an app."""

from __future__ import annotations

from api.schemas.base import AnswerModel, QueryId, QueryModel


class ContainerQuery(QueryModel):
    app_id: QueryId


class ContainerStatus(AnswerModel):
    """What Docker says about the app's active container."""

    app_id: int
    deployment_id: int
    container_id: str
    exists: bool
    running: bool
    status: str
    exit_code: int | None
    restart_count: int
    host_port: int | None
    image: str
