"""The Host header allow-list (server.allowed_hosts), in front of everything: a page on another
site whose name was made to resolve to this server (DNS rebinding) reaches fogbank under that
name, and is answered 421 in the envelope before any route, cookie or socket sees the request.

Allowed by default: the configured host, localhost, 127.0.0.1 and ::1. A server listening on
every address (0.0.0.0, ::) also answers any IP address literal: rebinding needs a name."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from hypercorn.typing import (
    ASGIFramework,
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPResponseStartEvent,
    Scope,
)

from api.envelope import failure_body

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("", "0.0.0.0", "::")  # noqa: S104 - names of "every address", compared, not bound
MISDIRECTED = 421


def host_name(header: str) -> str:
    """The host of a Host header without its port, lowercase ("[::1]:80" -> "::1")."""
    try:
        return (urlsplit(f"//{header.strip()}").hostname or "").rstrip(".")
    except ValueError:
        return ""


def allowed_names(server_host: str, extra: Iterable[str]) -> frozenset[str]:
    names = {*LOOPBACK_NAMES, *(host_name(item) or item.lower() for item in extra)}
    if server_host not in WILDCARDS:
        names.add(host_name(server_host) or server_host.lower())
    return frozenset(names)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostGuard:
    def __init__(self, app: ASGIFramework, server_host: str, extra: Iterable[str]) -> None:
        self.inner = app  # what it guards (public, as ReceiverMount.inner)
        self._names = allowed_names(server_host, extra)
        self._any_ip = server_host in WILDCARDS

    def allows(self, header: str) -> bool:
        name = host_name(header)
        return bool(name) and (name in self._names or (self._any_ip and _is_ip(name)))

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] in ("http", "websocket"):
            headers: Any = scope.get("headers", ())
            host = next((value.decode("latin-1") for key, value in headers if key == b"host"), "")
            if not self.allows(host):
                await self._refuse(scope, send, host)
                return
        await self.inner(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, send: ASGISendCallable, host: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4400, "reason": ""})
            return
        message = (
            f"this server does not answer to the host {host[:100]!r}; add it to "
            "server.allowed_hosts if it is one of its names"
        )
        body = json.dumps(failure_body(message, "HOST_NOT_ALLOWED")).encode()
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": MISDIRECTED,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "trailers": False,
        }
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})
