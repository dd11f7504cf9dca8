"""Maps every error to the JSON envelope, in exactly this one place. Never a stack trace, never
HTML: fogbank's own errors keep their code, HTTP errors from Quart/Werkzeug get a stable code,
anything else is logged with its traceback and answered as a plain 500."""

from __future__ import annotations

import logging

from quart import Quart, Response
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

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> tuple[Response, int]:
        status = error.code or 500
        message = HTTP_MESSAGES.get(status) or (error.description or error.name).rstrip(".")
        return failure(message, HTTP_CODES.get(status, "HTTP_ERROR"), status)

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("unhandled error", exc_info=error)
        return failure("internal server error", "INTERNAL_ERROR", 500)
