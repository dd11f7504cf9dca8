"""The OpenAPI document: quart-schema generates it from the schemas each view validates with or
documents, and this provider adds what fogbank's views declare apart: who may call them
(api/guard.py), the errors they can answer, answers that are not JSON, and the WebSocket."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any, TypeVar

from quart import Quart
from quart_schema import OpenAPIProvider, QuartSchema
from quart_schema.validation import (
    QUART_SCHEMA_QUERYSTRING_ATTRIBUTE,
)
from werkzeug.routing import IntegerConverter, Rule
from werkzeug.routing.converters import BaseConverter

from api.adapters import reuse_adapters
from api.receiver import RECEIVER_ALIAS
from api.requests import INT64_MAX
from api.schemas.base import Failure

F = TypeVar("F", bound=Callable[..., Any])

ERRORS_ATTRIBUTE = "fogbank_errors"
CONTENT_ATTRIBUTE = "fogbank_content"
RAW_BODY_ATTRIBUTE = "fogbank_raw_body"
CHOICES_ATTRIBUTE = "fogbank_path_choices"
AUTHENTICATED: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"sessionCookie": []}]
SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {"type": "http", "scheme": "bearer"},
    "sessionCookie": {"type": "apiKey", "in_": "cookie", "name": "fogbank_session"},
    "queryToken": {"type": "apiKey", "in_": "query", "name": "token"},
}
REASONS = {
    101: "Switching Protocols, then JSON frames",
    200: "OK",
    201: "Created",
    202: "Accepted, nothing done; the message says why",
    400: "Malformed request (not JSON, not an object, nested too deep)",
    401: "No or invalid credentials",
    403: "Role too low, or a cross-site cookie request",
    404: "Unknown id",
    408: "The body did not arrive in time",
    409: "Wrong state for this action",
    413: "Body too large",
    415: "The body is not JSON (Content-Type)",
    421: "The Host header names no allowed host (server.allowed_hosts)",
    422: "Failed validation; the message names the field",
    429: "Rate limited",
    503: "Docker or the edge is unavailable, or the server is busy",
}
BODY_ERRORS = (400, 413, 415, 422)
DESCRIPTION = (
    "JSON answers are the envelope {success, message, data, error}, except the seed's "
    "POST /api/deployment/add (the bare deployment object) and "
    "GET /api/deployment/logs/{deployment_id} (text/plain unless JSON is asked for). "
    "Requests are camelCase JSON objects; unknown fields are refused."
)


def errors(*statuses: int) -> Callable[[F], F]:
    """Error statuses a view answers besides the common ones (421 always; 401 and 403 unless public; 400,
    413, 415 and 422 when it validates a body; 422 when it validates a query)."""

    def decorate(view: F) -> F:
        setattr(view, ERRORS_ATTRIBUTE, (*getattr(view, ERRORS_ATTRIBUTE, ()), *statuses))
        return view

    return decorate


def content(
    status: int, media_type: str, description: str, schema: dict[str, Any] | None = None
) -> Callable[[F], F]:
    """An answer that no pydantic model describes (text, HTML, a document)."""

    def decorate(view: F) -> F:
        found: dict[int, dict[str, Any]] = dict(getattr(view, CONTENT_ATTRIBUTE, {}))
        entry = found.setdefault(status, {"description": description, "content": {}})
        entry["content"][media_type] = {"schema": schema or {"type": "string"}}
        setattr(view, CONTENT_ATTRIBUTE, found)
        return view

    return decorate


def path_choices(**choices: Iterable[str]) -> Callable[[F], F]:
    """The values a string path parameter may take (others answer 404)."""

    def decorate(view: F) -> F:
        setattr(view, CHOICES_ATTRIBUTE, {name: list(values) for name, values in choices.items()})
        return view

    return decorate


def raw_body(view: F) -> F:
    """The view reads its body itself (the GitHub receiver): any JSON object, no common errors."""
    setattr(view, RAW_BODY_ATTRIBUTE, True)
    return view


def install(app: Quart) -> QuartSchema:
    """quart-schema on `app`, its own routes off: api/routes/docs.py serves the document and
    the page, so they are public and listed like every other route."""
    reuse_adapters()
    return QuartSchema(
        app,
        openapi_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
        info={"title": "fogbank", "version": _version(), "description": DESCRIPTION},
        security_schemes=SECURITY_SCHEMES,
        openapi_provider_class=FogbankOpenAPI,
    )


class FogbankOpenAPI(OpenAPIProvider):
    """quart-schema's provider, completed from the attributes fogbank's views carry."""

    def schema(self) -> dict[str, Any]:
        document = super().schema()
        document["components"]["schemas"]["Failure"] = Failure.model_json_schema()
        return document

    def generate_rules(self) -> Iterable[Rule]:
        # Every rule of the API, the WebSocket included, in path order; the dashboard's pages
        # (api/pages/) are HTML for people, not operations.
        return sorted(
            (rule for rule in self._app.url_map.iter_rules() if not is_page_rule(self._app, rule)),
            key=lambda rule: rule.rule,
        )

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        view = self._app.view_functions[rule.endpoint]
        for operations in paths.values():
            for method, operation in operations.items():
                operations[method] = self._complete(rule, view, dict(operation))
        return paths, components

    def _complete(self, rule: Rule, view: Any, operation: dict[str, Any]) -> dict[str, Any]:
        public = getattr(view, "fogbank_public", False)
        operation["tags"] = [rule.endpoint.split(".")[0]]
        operation["x-fogbank-role"] = (
            "public" if public else str(getattr(view, "fogbank_role", "viewer"))
        )
        operation["security"] = [] if public else list(AUTHENTICATED)
        choices = getattr(view, CHOICES_ATTRIBUTE, {})
        for parameter in operation["parameters"]:
            if parameter["name"] in choices:
                parameter["schema"] = {"type": "string", "enum": choices[parameter["name"]]}
        if "requestBody" in operation:
            operation["requestBody"]["required"] = True
        if rule.websocket:
            operation["x-websocket"] = True
            operation["security"] = [*AUTHENTICATED, {"queryToken": []}]
            operation["responses"] = {"101": {"description": REASONS[101]}}
        else:
            operation["responses"] = _responses(view, operation, public)
        for key in ("parameters", "description"):
            if not operation.get(key):
                operation.pop(key, None)
        return operation

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        parameter = super().build_path_parameter(name, converter)
        if isinstance(converter, IntegerConverter):
            parameter["schema"] = {"type": "integer", "minimum": 0, "maximum": INT64_MAX}
        return parameter

    def build_querystring_parameters(
        self, model: Any
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        parameters, definitions = super().build_querystring_parameters(model)
        required = {
            field.alias or name for name, field in model.model_fields.items() if field.is_required()
        }
        for parameter in parameters:
            parameter["required"] = parameter["name"] in required
        return parameters, definitions

    def operation_id(self, method: str, path: str, func: Callable[..., Any]) -> str:
        name = f"{func.__module__.rsplit('.', 1)[-1]}_{func.__name__}"
        return name + "_alias" if path == RECEIVER_ALIAS else name


def _responses(view: Any, operation: dict[str, Any], public: bool) -> dict[str, Any]:
    """The view's answers (from its schemas and `content`), then every error it can give."""
    responses: dict[Any, Any] = {
        status: {**answer, "description": REASONS.get(int(status), answer["description"])}
        for status, answer in operation["responses"].items()
    }
    for status, answer in getattr(view, CONTENT_ATTRIBUTE, {}).items():
        merged = responses.setdefault(status, {"description": answer["description"]})
        merged["content"] = {**merged.get("content", {}), **answer["content"]}
    statuses = set(getattr(view, ERRORS_ATTRIBUTE, ()))
    statuses.add(421)  # api/hosts.py answers it before any route
    if not public:
        statuses |= {401, 403}
    if "requestBody" in operation and not getattr(view, RAW_BODY_ATTRIBUTE, False):
        statuses |= set(BODY_ERRORS)
    if hasattr(view, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE):
        statuses.add(422)
    for status in sorted(statuses):
        responses.setdefault(status, _failure(status))
    return {str(status): answer for status, answer in responses.items()}


def is_page_rule(app: Any, rule: Rule) -> bool:
    """Whether the rule is a dashboard page (marked by api/pages/site.py's @page)."""
    return bool(getattr(app.view_functions.get(rule.endpoint), "fogbank_page", False))


def _failure(status: int) -> dict[str, Any]:
    return {
        "description": REASONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Failure"}}},
    }


def _version() -> str:
    try:
        return metadata.version("fogbank")
    except metadata.PackageNotFoundError:
        return "0.1.0"
