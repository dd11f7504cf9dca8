"""The Caddy JSON configs of the edge, computed from routes (pure functions, no I/O).

A Caddy /load is graceful for requests in flight, but it shuts the old HTTP servers down, and Go
closes their idle keep-alive connections at once: a client that sends its next request on such a
connection at that moment gets no answer. So fogbank's own Caddy runs in two layers:

- the front owns the client-facing listeners (edge.http_port and one per publicPort); its config
  changes only when that set of ports does, so a deploy never touches a client connection;
- the switch holds the routing table (Host or public port -> upstream) and is reloaded on every
  change. The front reaches it over a unix socket, a new connection per request (no idle ones to
  lose) and retries a failed dial, so a switch reload or restart is invisible to clients.

A Caddy fogbank does not manage gets the single-layer `caddy_config`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from controller.config import EdgeSettings
from controller.errors import EdgeError

UPSTREAM_HOST = "127.0.0.1"
NOT_ROUTED = "fogbank: no app is served for this host\n"
# Set by the front on every request (overwriting whatever a client sent), read by the switch.
ENTRY_HEADER = "X-Fogbank-Entry"
CLIENT_HEADER = "X-Fogbank-Client"
DOMAINS_ENTRY = "domains"
# How long the front keeps retrying to reach a switch that is reloading or restarting.
SWITCH_DIAL_RETRY = {"try_duration": "10s", "try_interval": "50ms"}
# Several upstreams: a refused dial (a task being replaced) is retried on another, and that
# upstream is skipped for a while.
UPSTREAMS_RETRY = {"try_duration": "5s", "try_interval": "50ms"}
UPSTREAMS_PASSIVE = {"passive": {"fail_duration": "10s", "max_fails": 1}}


@dataclass(frozen=True)
class Route:
    """One web app at the edge: its hostnames on edge.http_port and its own public port."""

    app: str
    upstream_port: int
    hostnames: tuple[str, ...]
    public_port: int | None
    # More upstreams of the same app (Swarm tasks); a failed dial moves on to another.
    more_ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class SwitchSockets:
    """Where the switch layer listens for the front and for its admin API (unix sockets)."""

    listen: Path
    admin: Path


def caddy_config(routes: Sequence[Route], settings: EdgeSettings) -> dict[str, Any]:
    """The whole single-layer config: every listener proxies straight to the upstreams."""
    ports = _public_ports(routes, settings)
    domain_routes = [
        {"match": [{"host": list(r.hostnames)}], **_handle(_proxy(r)), "terminal": True}
        for r in routes
        if r.hostnames
    ]
    servers = {f"public-{port}": _server(settings, port, [_handle(_proxy(r))]) for port, r in ports}
    servers["domains"] = _server(settings, settings.http_port, [*domain_routes, _not_routed()])
    return _document(settings, _admin(settings), servers)


def front_config(
    routes: Sequence[Route], settings: EdgeSettings, sockets: SwitchSockets
) -> dict[str, Any]:
    """The front layer: the client-facing listeners, each tagging its requests with its entry
    and handing them to the switch. Depends only on the set of ports, not on upstreams."""
    entries = [(settings.http_port, DOMAINS_ENTRY)]
    entries += [(port, f"port-{port}") for port, _ in _public_ports(routes, settings)]
    servers = {
        name: _server(settings, port, [_handle(_to_switch(name, sockets))])
        for port, name in entries
    }
    return _document(settings, _admin(settings), servers)


def switch_config(
    routes: Sequence[Route], settings: EdgeSettings, sockets: SwitchSockets
) -> dict[str, Any]:
    """The switch layer: the routing table from a front entry (and Host) to each upstream."""
    table = [
        {
            "match": [{"header": {ENTRY_HEADER: [f"port-{port}"]}}],
            **_handle(_from_front(route)),
            "terminal": True,
        }
        for port, route in _public_ports(routes, settings)
    ]
    table += [
        {
            "match": [{"header": {ENTRY_HEADER: [DOMAINS_ENTRY]}, "host": list(route.hostnames)}],
            **_handle(_from_front(route)),
            "terminal": True,
        }
        for route in routes
        if route.hostnames
    ]
    server = {
        "listen": [f"unix/{sockets.listen}"],
        "automatic_https": {"disable": True},
        "routes": [*table, _not_routed()],
    }
    admin = {"listen": f"unix/{sockets.admin}", "origins": ["caddy"]}
    return _document(settings, admin, {"switch": server})


def _public_ports(routes: Sequence[Route], settings: EdgeSettings) -> list[tuple[int, Route]]:
    """(port, route) per public port, refusing ports used twice or by the edge itself."""
    taken = {
        urlsplit(settings.admin_url).port: "the admin API",
        settings.http_port: "edge.http_port",
    }
    found: list[tuple[int, Route]] = []
    for route in routes:
        port = route.public_port
        if port is None:
            continue
        if port in taken:
            raise EdgeError(f"app {route.app}: public port {port} is already used by {taken[port]}")
        taken[port] = f"app {route.app}"
        found.append((port, route))
    return found


def _document(
    settings: EdgeSettings, admin: dict[str, Any], servers: dict[str, Any]
) -> dict[str, Any]:
    return {
        # Our config is the only truth: nothing autosaved, no --resume of a stale one.
        "admin": {**admin, "config": {"persist": False}},
        "apps": {
            "http": {
                # Requests still in flight on the old config get this long after a /load.
                "grace_period": f"{settings.drain_seconds:g}s",
                "servers": servers,
            }
        },
    }


def _admin(settings: EdgeSettings) -> dict[str, Any]:
    return {"listen": urlsplit(settings.admin_url).netloc}


def _server(settings: EdgeSettings, port: int, routes: list[dict[str, Any]]) -> dict[str, Any]:
    # Plain HTTP on our own ports: no certificates, no redirects. No access log: nothing about
    # requests (let alone their bodies) is written.
    address = settings.bind_address
    host = f"[{address}]" if ":" in address else address
    return {"listen": [f"{host}:{port}"], "automatic_https": {"disable": True}, "routes": routes}


def _handle(handler: dict[str, Any]) -> dict[str, Any]:
    return {"handle": [handler]}


def _proxy(route: Route) -> dict[str, Any]:
    ports = (route.upstream_port, *route.more_ports)
    upstreams = [{"dial": f"{UPSTREAM_HOST}:{port}"} for port in ports]
    if len(upstreams) == 1:
        return {"handler": "reverse_proxy", "upstreams": upstreams}
    return {
        "handler": "reverse_proxy",
        "upstreams": upstreams,
        "load_balancing": UPSTREAMS_RETRY,
        "health_checks": UPSTREAMS_PASSIVE,
    }


def _to_switch(entry: str, sockets: SwitchSockets) -> dict[str, Any]:
    return {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": f"unix/{sockets.listen}"}],
        "transport": {"protocol": "http", "keep_alive": {"enabled": False}},
        "load_balancing": SWITCH_DIAL_RETRY,
        "headers": {
            "request": {
                "set": {ENTRY_HEADER: [entry], CLIENT_HEADER: ["{http.request.remote.host}"]}
            }
        },
    }


def _from_front(route: Route) -> dict[str, Any]:
    # Caddy drops X-Forwarded-* from a unix-socket peer; restore them from what the front saw.
    forwarded = {
        "X-Forwarded-For": [f"{{http.request.header.{CLIENT_HEADER}}}"],
        "X-Forwarded-Proto": ["http"],
        "X-Forwarded-Host": ["{http.request.host}"],
    }
    headers = {"request": {"set": forwarded, "delete": [ENTRY_HEADER, CLIENT_HEADER]}}
    return {**_proxy(route), "headers": headers}


def _not_routed() -> dict[str, Any]:
    return _handle({"handler": "static_response", "status_code": 404, "body": NOT_ROUTED})
