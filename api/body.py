"""Typed reading of JSON request bodies: wrong types, missing and unknown keys are 4xx errors
that name the field, before any handler logic runs."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from quart import request
from werkzeug.routing import IntegerConverter

from api.services import services
from controller.errors import BadRequest, PayloadTooLarge, ValidationFailed

T = TypeVar("T")
# Integers are stored as SQL BIGINT: a larger one is refused here instead of overflowing there.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Int64Converter(IntegerConverter):
    """`<int:...>` in URLs, bounded like the ids it names (a larger one matches no route)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT64_MAX)
        super().__init__(*args, **kwargs)


def parse_id(raw: str) -> int | None:
    """A query-string id: ASCII digits within BIGINT, else None ("²".isdigit() is true too)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        return None
    value = int(raw)
    return value if value <= INT64_MAX else None


class Body:
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def allow_only(self, *keys: str) -> Body:
        unknown = sorted(set(self._data) - set(keys))
        if unknown:
            raise ValidationFailed(f"unknown field '{unknown[0]}'")
        return self

    def has(self, key: str) -> bool:
        return key in self._data

    def integer(self, key: str, *, required: bool = True, default: int | None = None) -> int | None:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationFailed(f"'{key}' must be an integer")
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValidationFailed(f"'{key}' is out of range")
        return value

    def require_int(self, key: str) -> int:
        value = self.integer(key)
        assert value is not None
        return value

    def text(self, key: str, *, required: bool = True, default: str | None = None) -> str | None:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise ValidationFailed(f"'{key}' must be a string")
        return value

    def require_str(self, key: str) -> str:
        value = self.text(key)
        assert value is not None
        return value

    def boolean(
        self, key: str, *, required: bool = True, default: bool | None = None
    ) -> bool | None:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ValidationFailed(f"'{key}' must be true or false")
        return value

    def _get(self, key: str, required: bool) -> Any:
        value = self._data.get(key)
        if value is None and required:
            raise ValidationFailed(f"'{key}' is required")
        return value


async def json_body(max_bytes: int) -> Body:
    """The request's JSON object, or 400/413/415 with a clear message."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"request body is larger than {max_bytes} bytes")
    raw = await request.get_data(as_text=False)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"request body is larger than {max_bytes} bytes")
    if not raw.strip():
        raise BadRequest("request body must be a JSON object")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return Body(data)


async def read_body() -> Body:
    """The JSON body of an API request, capped at server.max_body_bytes."""
    return await json_body(services().settings.server.max_body_bytes)
