"""Notification targets, an app's GitHub reporting, and the test notification. Secrets (a
target's URL and signing secret, a GitHub token) go in and never come out: answers say only
whether one is set."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from api.schemas.base import AnswerModel, Id, RequestModel, Timestamp, rule
from controller.notify import manage
from controller.store.reporting import MessageState, NotificationTarget, OutboxMessage

EventName = Literal[
    "deployment.succeeded",
    "deployment.failed",
    "deployment.stopped",
    "deployment.rolled_back",
    "deployment.reverted",
    "drift.repaired",
]
TargetKind = Annotated[Literal["webhook", "slack", "discord", "email"], Field(examples=["webhook"])]
Url = Annotated[
    str,
    rule(manage.check_url),
    Field(
        max_length=2048,
        description="http(s); write-only (a Slack URL is a credential)",
        examples=["https://hooks.example.com/fogbank"],
    ),
]
Secret = Annotated[
    str,
    Field(min_length=16, max_length=256, description="HMAC-SHA256 key; write-only"),
]
Emails = Annotated[
    list[Annotated[str, Field(max_length=254)]],
    rule(manage.check_emails),
    Field(min_length=1, max_length=50),
]
Events = Annotated[
    list[EventName],
    rule(manage.check_events),
    Field(min_length=1, description="what the target hears of; every event when omitted"),
]
Name = Annotated[str, Field(min_length=1, max_length=64, examples=["ops"])]


class TargetCreate(RequestModel):
    """A target for one app (appId) or for every app (no appId). A webhook without a secret
    gets one, shown once in the answer."""

    app_id: Id | None = None
    name: Name
    kind: TargetKind
    url: Url | None = None
    secret: Secret | None = None
    email_to: Emails | None = None
    events: Events | None = None
    enabled: bool = True


class TargetUpdate(RequestModel):
    """The fields to change."""

    target_id: Id
    name: Name | None = None
    url: Url | None = None
    secret: Secret | None = None
    email_to: Emails | None = None
    events: Events | None = None
    enabled: bool | None = None


class TargetRef(RequestModel):
    target_id: Id


class TargetList(RequestModel):
    """One app's targets, or the global ones without appId."""

    app_id: Id | None = None


class TargetOut(AnswerModel):
    id: int
    app_id: int | None
    name: str
    kind: TargetKind
    url: str = Field(description="scheme and host only")
    secret_set: bool
    email_to: list[str]
    events: list[EventName]
    enabled: bool
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, target: NotificationTarget) -> TargetOut:
        return cls.model_validate(
            {
                "id": target.id,
                "app_id": target.app_id,
                "name": target.name,
                "kind": str(target.kind),
                "url": manage.masked_url(target.url),
                "secret_set": bool(target.secret),
                "email_to": [a for a in target.email_to.split(",") if a],
                "events": [e for e in target.events.split(",") if e],
                "enabled": target.enabled,
                "created_at": target.created_at,
                "updated_at": target.updated_at,
            }
        )


class TargetCreated(AnswerModel):
    target: TargetOut
    secret: str | None = Field(description="the signing secret fogbank made; shown this once")


class TestResult(AnswerModel):
    """How the test notification's first attempt went (pending: still being tried)."""

    message_id: int
    state: MessageState
    attempts: int
    last_error: str

    @classmethod
    def of(cls, message: OutboxMessage) -> TestResult:
        return cls(
            message_id=message.id,
            state=message.state,
            attempts=message.attempts,
            last_error=message.last_error,
        )


class GithubRef(RequestModel):
    app_id: Id


class GithubUpdate(RequestModel):
    """The app's own GitHub reporting; a field left out is unchanged."""

    app_id: Id
    token: Annotated[str, Field(max_length=255, description='write-only; "" removes it')] | None = (
        None
    )
    repository: (
        Annotated[
            str,
            rule(manage.check_repository),
            Field(max_length=255, description="owner/name when the git URL is not on GitHub"),
        ]
        | None
    ) = None
    commit_statuses: bool | None = Field(default=None, description="null: github.commit_statuses")
    deployments: bool | None = Field(default=None, description="null: github.deployments")


class GithubOut(AnswerModel):
    app_id: int
    repository: str
    resolved_repository: str
    token_set: bool
    token_source: Literal["app", "global", "none"]
    commit_statuses: bool | None
    deployments: bool | None
    reporting: bool
