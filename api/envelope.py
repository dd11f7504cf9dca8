"""The one JSON envelope of every answer: {"success", "message", "data", "error"}."""

from __future__ import annotations

from typing import Any

from quart import Response, jsonify


def ok(data: Any = None, message: str = "OK", status: int = 200) -> tuple[Response, int]:
    return jsonify({"success": True, "message": message, "data": data, "error": None}), status


def failure(message: str, code: str, status: int) -> tuple[Response, int]:
    return jsonify({"success": False, "message": message, "data": None, "error": code}), status
