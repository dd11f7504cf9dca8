"""The OpenAPI 3.0 document of GET /openapi.json, built from the app's URL map and the request
description of each endpoint (api/route_specs.py), so every route that exists is listed. Answers
are documented as the envelope, its error codes, and the seed's two bare exceptions."""

from __future__ import annotations

import re
from importlib import metadata
from typing import Any

from quart import Quart
from werkzeug.routing import Rule

from api.body import INT64_MAX
from api.receiver import RECEIVER_ALIAS
from api.route_specs import COMMON_ERRORS, ROUTES, RouteSpec

OPENAPI_VERSION = "3.0.3"
PATH_PARAMETER = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
UNDESCRIBED = RouteSpec("Undocumented route")
REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted, nothing done; the message says why",
    400: "Malformed request (not JSON, not an object)",
    401: "No or invalid credentials",
    403: "Role too low, or a cross-site cookie request",
    404: "Unknown id",
    409: "Wrong state for this action",
    413: "Body too large",
    422: "Failed validation; the message names the field",
    429: "Rate limited",
    503: "Docker or the edge is unavailable",
}
ENVELOPE: dict[str, Any] = {
    "type": "object",
    "required": ["success", "message", "data", "error"],
    "properties": {
        "success": {"type": "boolean"},
        "message": {"type": "string"},
        "data": {"nullable": True},
        "error": {"type": "string", "nullable": True},
    },
    "additionalProperties": False,
}
ERROR: dict[str, Any] = {
    **ENVELOPE,
    "properties": {
        **ENVELOPE["properties"],
        "success": {"type": "boolean", "enum": [False]},
        "message": {"type": "string", "minLength": 1},
        "error": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
    },
}
_TIME = {"type": "string", "nullable": True, "format": "date-time"}
_INT = {"type": "integer", "nullable": True}
_TEXT = {"type": "string", "nullable": True}
DEPLOYMENT: dict[str, Any] = {
    "type": "object",
    "description": "The seed's deployment object (snake_case)",
    "properties": {
        "id": {"type": "integer"},
        "app_id": {"type": "integer"},
        "deployment_number": {"type": "integer"},
        "commit_hash": {"type": "string"},
        "commit_message": _TEXT,
        "commit_author": _TEXT,
        "triggered_by": {"type": "string", "enum": ["manual", "webhook", "poll", "rollback"]},
        "status": {"type": "string"},
        "stage": {"type": "string"},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "error_message": _TEXT,
        "image_tag": _TEXT,
        "container_id": _TEXT,
        "is_active": {"type": "boolean"},
        "rolled_back_from": _INT,
        "duration": _INT,
        "created_at": _TIME,
        "started_at": _TIME,
        "finished_at": _TIME,
        "updated_at": _TIME,
    },
    "required": ["id", "app_id", "deployment_number", "commit_hash", "status", "stage"],
}
AUTHENTICATED: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"sessionCookie": []}]


def build_document(app: Quart) -> dict[str, Any]:
    """The whole document; every rule of the URL map but Quart's static files appears."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        spec = ROUTES.get(rule.endpoint, UNDESCRIBED)
        for method in operation_methods(rule):
            paths.setdefault(openapi_path(rule), {})[method.lower()] = _operation(rule, spec)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "fogbank",
            "version": _version(),
            "description": "JSON answers are the envelope {success, message, data, error}, "
            "except the seed's POST /api/deployment/add (the bare deployment object) and "
            "GET /api/deployment/logs/{deployment_id} (text/plain unless JSON is asked for).",
        },
        "paths": paths,
        "components": {
            "schemas": {"Envelope": ENVELOPE, "Error": ERROR, "Deployment": DEPLOYMENT},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "fogbank_session"},
            },
        },
    }


def undescribed_endpoints(app: Quart) -> set[str]:
    """Endpoints of the URL map that api/route_specs.py does not describe."""
    return {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and rule.endpoint not in ROUTES
    }


def operation_methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def openapi_path(rule: Rule) -> str:
    """/api/deployment/logs/<int:deployment_id> -> /api/deployment/logs/{deployment_id}"""
    return PATH_PARAMETER.sub(lambda match: "{" + match["name"] + "}", rule.rule)


def _operation(rule: Rule, spec: RouteSpec) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": rule.endpoint.replace(".", "_")
        + ("_alias" if rule.rule == RECEIVER_ALIAS else ""),
        "summary": spec.summary,
        "tags": [rule.endpoint.split(".")[0]],
        "x-fogbank-role": str(spec.role) if spec.role else "public",
        "security": [] if spec.role is None else AUTHENTICATED,
        "responses": _responses(spec),
    }
    parameters = _path_parameters(rule) + [
        {"name": name, "in": "query", "required": f.required, "schema": f.schema}
        for name, f in spec.query.items()
    ]
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _body_schema(spec)}},
        }
    if spec.answer == "websocket":
        operation["x-websocket"] = True
        operation["security"] = [*AUTHENTICATED, {"queryToken": []}]
    return operation


def _path_parameters(rule: Rule) -> list[dict[str, Any]]:
    parameters = []
    for match in PATH_PARAMETER.finditer(rule.rule):
        schema: dict[str, Any] = {"type": "string"}
        if match["converter"] == "int":
            schema = {"type": "integer", "minimum": 0, "maximum": INT64_MAX}
        parameters.append({"name": match["name"], "in": "path", "required": True, "schema": schema})
    return parameters


def _body_schema(spec: RouteSpec) -> dict[str, Any]:
    if spec.open_body:
        return {"type": "object"}
    assert spec.body is not None
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: f.schema for name, f in spec.body.items()},
        "additionalProperties": False,
    }
    required = [name for name, f in spec.body.items() if f.required]
    if required:
        schema["required"] = required
    return schema


def _responses(spec: RouteSpec) -> dict[str, Any]:
    if spec.answer == "websocket":
        return {"101": {"description": "Switching Protocols, then JSON frames"}}
    if spec.answer == "document":
        return {"200": _json("This document", {"type": "object"})}
    success = {**ENVELOPE, "properties": {**ENVELOPE["properties"], "success": {"enum": [True]}}}
    responses: dict[str, Any] = {}
    if spec.answer == "deployment":
        responses["200"] = _json("The deployment object, bare (seed shape)", DEPLOYMENT)
    elif spec.answer == "log":
        responses["200"] = {
            "description": "The log so far",
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/json": {"schema": success},
            },
        }
    else:
        responses[str(spec.status)] = _json(REASONS[spec.status], success)
    errors = set(spec.errors) | ({400, 413, 422} if spec.body is not None else set())
    if spec.role is not None:
        errors |= set(COMMON_ERRORS)
    for status in sorted(errors):
        schema = success if status < 400 else {"$ref": "#/components/schemas/Error"}
        responses[str(status)] = _json(REASONS[status], schema)
    return responses


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _version() -> str:
    try:
        return metadata.version("fogbank")
    except metadata.PackageNotFoundError:
        return "0.1.0"
