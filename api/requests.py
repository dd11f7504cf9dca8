"""What a request may carry before any schema sees it: a JSON object body (right Content-Type,
within server.max_body_bytes, nested at most MAX_JSON_DEPTH deep) and URL ids within BIGINT.
quart-schema's validate_request reads bodies through ApiRequest.get_json."""

from __future__ import annotations

import json
from typing import Any

from quart import current_app
from quart.wrappers import Request
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.routing import IntegerConverter

from controller.errors import BadRequest, PayloadTooLarge

# Ids are stored as SQL BIGINT: a larger one is refused before it reaches the database.
INT64_MAX = 2**63 - 1
# No request schema nests deeper than a few levels; deeper bodies are refused before they cost
# a recursion (Python's parser raises RecursionError near 1,000 levels).
MAX_JSON_DEPTH = 32
MAX_BODY_CONFIG_KEY = "FOGBANK_MAX_BODY_BYTES"


class Int64Converter(IntegerConverter):
    """`<int:...>` in URLs, bounded like the ids it names (a larger one matches no route)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT64_MAX)
        super().__init__(*args, **kwargs)


class ApiRequest(Request):
    """Quart's request whose get_json is strict: 415, 413 or 400 in the envelope, never None."""

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if self._cached_json[False] is Ellipsis:
            self._cached_json[False] = await self._read_object()
        return self._cached_json[False]

    async def _read_object(self) -> dict[str, Any]:
        if not self.is_json:
            raise UnsupportedMediaType(
                "the request body must be JSON (Content-Type: application/json)"
            )
        max_bytes: int = current_app.config[MAX_BODY_CONFIG_KEY]
        if self.content_length is not None and self.content_length > max_bytes:
            raise PayloadTooLarge(f"request body is larger than {max_bytes} bytes")
        raw = await self.get_data(as_text=False)
        if len(raw) > max_bytes:
            raise PayloadTooLarge(f"request body is larger than {max_bytes} bytes")
        try:
            data = json.loads(raw)
        except RecursionError:
            raise BadRequest(
                f"request body is nested deeper than {MAX_JSON_DEPTH} levels"
            ) from None
        except ValueError as exc:  # also UnicodeDecodeError
            raise BadRequest(f"request body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise BadRequest("request body must be a JSON object")
        if nested_deeper_than(data, MAX_JSON_DEPTH):
            raise BadRequest(f"request body is nested deeper than {MAX_JSON_DEPTH} levels")
        return data


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels (the top one is level 1)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False
