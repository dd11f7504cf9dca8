"""An app's environment variables, declared once in EnvSpec; secret values are masked in every
answer."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_serializer

from api.schemas.base import AnswerModel, Id, RequestModel, Timestamp, rule
from api.schemas.derive import with_answer_fields, with_spec_fields
from controller.apps import validation
from controller.events.deployment_logs import MASK
from controller.store.models import EnvVar


class EnvSpec(RequestModel):
    """What a user may give for an env var."""

    key: Annotated[
        str,
        rule(validation.env_key),
        Field(json_schema_extra={"pattern": validation.ENV_KEY.pattern}, examples=["PORT"]),
    ]
    value: Annotated[
        str,
        rule(validation.env_value),
        Field(
            description="masked in every answer when isSecret",
            json_schema_extra={"maxLength": validation.MAX_ENV_VALUE_CHARS},
        ),
    ]
    is_secret: bool
    is_build_arg: bool


@with_spec_fields(EnvSpec, EnvVar, required=("key",))
class EnvCreate(RequestModel):
    """A new env var of an app (a secret cannot be a build arg)."""

    app_id: Id


@with_spec_fields(EnvSpec, EnvVar, omit=("key",), defaults=False)
class EnvUpdate(RequestModel):
    """What to change in an env var; its key is fixed."""

    env_id: Id


class EnvRef(RequestModel):
    env_id: Id


@with_answer_fields(EnvSpec)
class EnvOut(AnswerModel):
    """An env var; its value is ******** when it is a secret."""

    id: int
    app_id: int
    created_at: Timestamp
    updated_at: Timestamp

    @field_serializer("value", check_fields=False)
    def _masked(self, value: str) -> str:
        return MASK if getattr(self, "is_secret", True) else value
