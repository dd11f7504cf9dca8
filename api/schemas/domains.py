"""Host names the edge routes to a web app."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from api.schemas.base import AnswerModel, Id, RequestModel, Timestamp, rule
from controller.apps import validation


class DomainCreate(RequestModel):
    app_id: Id
    hostname: Annotated[
        str,
        rule(validation.hostname),
        Field(min_length=1, max_length=253, examples=["app.example.com"]),
    ]


class DomainRef(RequestModel):
    domain_id: Id


class DomainOut(AnswerModel):
    id: int
    app_id: int
    hostname: str
    created_at: Timestamp
