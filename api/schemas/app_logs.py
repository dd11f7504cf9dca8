"""The runtime logs of an app: the query of GET /api/apps/logs and of WS /ws/apps/logs, and the
lines they answer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from api.schemas.base import AnswerModel, QueryCount, QueryId, QueryModel, rule
from controller.apps.runtime_logs import MAX_TAIL
from controller.errors import ValidationFailed
from controller.runtime.container_logs import parse_timestamp_ns

DEFAULT_TAIL = 200


def _since(value: str) -> str:
    try:
        parse_timestamp_ns(value)
    except ValueError:
        raise ValidationFailed(
            "since must be an ISO-8601 time with a zone, like 2025-01-15T10:30:00Z"
        ) from None
    return value


Tail = Annotated[QueryCount, Field(le=MAX_TAIL, description="how many of the last lines")]
Since = Annotated[
    str,
    rule(_since),
    Field(
        description="only lines written after this time (ISO-8601, up to nanoseconds)",
        json_schema_extra={"format": "date-time"},
        examples=["2025-01-15T10:30:00Z"],
    ),
]


class AppLogsQuery(QueryModel):
    """GET /api/apps/logs: the app, how many of the last lines, and since when."""

    app_id: QueryId
    tail: Tail = DEFAULT_TAIL
    since: Since | None = None

    @property
    def since_ns(self) -> int:
        return parse_timestamp_ns(self.since) if self.since else 0


class AppLogStreamQuery(AppLogsQuery):
    """WS /ws/apps/logs: the same, then every new line; `since` resumes after the last line a
    dropped watcher got (its timestamp)."""

    token: str | None = Field(
        default=None, description="an API token, for clients that cannot set headers"
    )


class AppLogLine(AnswerModel):
    timestamp: str = Field(description="when the container wrote it (RFC 3339, nanoseconds)")
    stream: Literal["stdout", "stderr"]
    line: str


class AppLogsOut(AnswerModel):
    """The last lines of the container serving the app, oldest first, secrets masked."""

    app_id: int
    deployment_id: int
    container_id: str
    lines: list[AppLogLine]
