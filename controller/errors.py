"""One typed error hierarchy. Each error carries an HTTP status and a stable SCREAMING_SNAKE code;
the API maps them to the JSON envelope in exactly one place (api/errors.py)."""

from __future__ import annotations


class FogbankError(Exception):
    """Base of every error fogbank reports to a user."""

    status_code: int = 500
    code: str = "INTERNAL_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadRequest(FogbankError):
    status_code = 400
    code = "BAD_REQUEST"


class Unauthorized(FogbankError):
    status_code = 401
    code = "UNAUTHORIZED"


class Forbidden(FogbankError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(FogbankError):
    status_code = 404
    code = "NOT_FOUND"


class RequestTimeout(FogbankError):
    """The request's body did not arrive in time."""

    status_code = 408
    code = "REQUEST_TIMEOUT"


class Conflict(FogbankError):
    status_code = 409
    code = "CONFLICT"


class PayloadTooLarge(FogbankError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class ValidationFailed(FogbankError):
    status_code = 422
    code = "VALIDATION_FAILED"


class RateLimited(FogbankError):
    status_code = 429
    code = "RATE_LIMITED"


class ServiceUnavailable(FogbankError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"


class ConfigError(FogbankError):
    """Settings could not be loaded; raised before the server starts."""

    code = "CONFIG_ERROR"


class GitError(FogbankError):
    """A git operation failed (unreachable remote, unknown commit, timeout)."""

    status_code = 422
    code = "GIT_ERROR"


class BuildError(FogbankError):
    """docker build reported an error; the message quotes it."""

    code = "BUILD_FAILED"


class EngineError(FogbankError):
    """The Docker engine refused or failed an operation."""

    status_code = 503
    code = "ENGINE_ERROR"


class EdgeError(FogbankError):
    """The Caddy edge could not be started, reached or given its routes."""

    status_code = 503
    code = "EDGE_ERROR"
