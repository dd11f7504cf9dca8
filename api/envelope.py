"""The one JSON envelope of every answer: {"success", "message", "data", "error"}; its schema is
api/schemas/base.py's Envelope and Failure."""

from __future__ import annotations

from typing import Any

from quart import Response, jsonify


def ok_body(data: Any = None, message: str = "OK") -> dict[str, Any]:
    return {"success": True, "message": message, "data": data, "error": None}


def failure_body(message: str, code: str) -> dict[str, Any]:
    return {"success": False, "message": message, "data": None, "error": code}


def failure(message: str, code: str, status: int) -> tuple[Response, int]:
    return jsonify(failure_body(message, code)), status
