"""Building blocks of every schema: requests in camelCase that are strict and refuse unknown
fields, answers in snake_case read from model attributes, the envelope, ids within BIGINT, and the
controller's validation functions run as pydantic validators."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from api.requests import INT64_MAX
from controller.errors import ValidationFailed
from controller.store.timefmt import iso

T = TypeVar("T")
ERROR_CODE = r"^[A-Z][A-Z0-9_]*$"


class RequestModel(BaseModel):
    """A JSON request body: camelCase keys, exact JSON types (no "1" for 1, no 1 for true),
    nothing unknown."""

    model_config = ConfigDict(strict=True, extra="forbid", alias_generator=to_camel, frozen=True)


class QueryModel(BaseModel):
    """A query string: every value arrives as text; parameters it does not name are ignored."""

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, frozen=True)


class AnswerModel(BaseModel):
    """An object in an answer: snake_case, read from a model's attributes."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )


class Envelope(BaseModel, Generic[T]):
    """The answer of every JSON route but the seed's two bare ones."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)
    success: Literal[True] = True
    message: str
    data: T
    error: None = None


class Failure(BaseModel):
    """An error: a human message and a stable code, never a stack trace."""

    model_config = ConfigDict(extra="forbid")
    success: Literal[False]
    message: Annotated[str, Field(min_length=1)]
    data: None
    error: Annotated[str, Field(pattern=ERROR_CODE)]


def rule(check: Callable[[Any], Any]) -> AfterValidator:
    """A controller validation function as a validator: its ValidationFailed becomes a pydantic
    error carrying the same message, which already names the field."""

    def run(value: Any) -> Any:
        try:
            return check(value)
        except ValidationFailed as exc:
            raise PydanticCustomError("fogbank", "{message}", {"message": exc.message}) from None

    return AfterValidator(run)


def _ascii_digits(value: Any) -> Any:
    """Query-string text to an int: ASCII digits only ("²".isdigit() is true, int("1 ") is 1)."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()) or len(value) > 19:
            raise PydanticCustomError("int_parsing", "Input should be a valid integer")
        return int(value)
    return value


Id = Annotated[int, Field(ge=1, le=INT64_MAX, examples=[1])]
QueryId = Annotated[int, Field(ge=1, le=INT64_MAX, examples=[1]), BeforeValidator(_ascii_digits)]
QueryCount = Annotated[int, Field(ge=0, le=INT64_MAX), BeforeValidator(_ascii_digits)]
# ISO-8601 UTC with a trailing Z, as the seed writes them.
Timestamp = Annotated[
    datetime | None,
    PlainSerializer(iso, return_type=str | None),
    WithJsonSchema({"type": ["string", "null"], "format": "date-time"}, mode="serialization"),
]


class Deleted(AnswerModel):
    id: int


class Liveness(AnswerModel):
    status: str


class Readiness(AnswerModel):
    database: Literal["ok"]
    docker: Literal["ok"]
    edge: Literal["ok"]
