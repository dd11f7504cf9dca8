"""Maps every error to the JSON envelope, in exactly this one place. Never a stack trace, never
HTML: fogbank's own errors keep their code, HTTP errors from Quart/Werkzeug get a stable code,
anything else is logged with its traceback and answered as a plain 500."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from quart import Quart, Response
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from api.envelope import failure
from controller.errors import FogbankError

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_FAILED",
    429: "RATE_LIMITED",
}

# What a pydantic error type says about the field it names; {placeholders} come from its context.
FIELD_MESSAGES = {
    "missing": "is required",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "string_too_short": "must have at least {min_length} characters",
    "string_too_long": "must have at most {max_length} characters",
    "string_pattern_mismatch": "must match {pattern}",
    "enum": "must be one of {expected}",
    "literal_error": "must be {expected}",
    "none_required": "must be null",
}
MAX_REPORTED_ERRORS = 5

HTTP_MESSAGES = {
    404: "no such route",
    405: "method not allowed on this route",
    413: "request body is too large",
}


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(FogbankError)
    async def fogbank_error(error: FogbankError) -> tuple[Response, int]:
        if error.status_code >= 500:
            log.error("%s: %s", error.code, error.message)
        return failure(error.message, error.code, error.status_code)

    @app.errorhandler(RequestSchemaValidationError)
    async def schema_error(error: RequestSchemaValidationError) -> tuple[Response, int]:
        return failure(validation_message(error.validation_error), "VALIDATION_FAILED", 422)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> tuple[Response, int]:
        status = error.code or 500
        message = HTTP_MESSAGES.get(status) or (error.description or error.name).rstrip(".")
        return failure(message, HTTP_CODES.get(status, "HTTP_ERROR"), status)

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("unhandled error", exc_info=error)
        return failure("internal server error", "INTERNAL_ERROR", 500)


def validation_message(error: Exception) -> str:
    """One sentence per failed field, naming it as the request spelled it."""
    if not isinstance(error, ValidationError):
        return f"invalid request: {error}"
    messages: list[str] = []
    for detail in error.errors(include_url=False)[:MAX_REPORTED_ERRORS]:
        message = _field_message(detail)
        if message not in messages:
            messages.append(message)
    return "; ".join(messages)


def _field_message(detail: Any) -> str:
    field = ".".join(str(part) for part in detail["loc"]) or "body"
    kind = detail["type"]
    if kind == "fogbank":  # a controller rule: its message already names the field
        return str(detail["msg"])
    if kind == "extra_forbidden":
        return f"unknown field '{field}'"
    template = FIELD_MESSAGES.get(kind)
    if template is None:
        return f"'{field}': {detail['msg']}"
    return f"'{field}' " + template.format(**detail.get("ctx", {}))
