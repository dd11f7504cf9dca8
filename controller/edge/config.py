"""The Caddy JSON configs of the edge, computed from routes (pure functions, no I/O).

A Caddy /load is graceful for requests in flight, but it shuts the old HTTP servers down, and Go
closes their idle keep-alive connections at once: a client that sends its next request on such a
connection at that moment gets no answer. So fogbank's own Caddy runs in two layers:

- the front owns the client-facing listeners (edge.http_port, edge.https_port and one per
  publicPort), ends TLS and serves fogbank's API at server.public_url; its config changes only
  when that set of ports does, so a deploy or a domain change never touches a client connection
  (certificates are obtained on demand, after asking the switch whether the host is served);
- the switch holds the routing table (Host or public port -> upstream) and is reloaded on every
  change. The front reaches it over a unix socket, a new connection per request (no idle ones to
  lose) and retries a failed dial, so a switch reload or restart is invisible to clients.

A Caddy fogbank does not manage gets the single-layer `caddy_config`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from controller.edge import tls
from controller.edge.layout import ApiSite, EdgeLayout, Route
from controller.errors import EdgeError

__all__ = ["NOT_ROUTED", "Route", "caddy_config", "front_config", "switch_config"]

UPSTREAM_HOST = "127.0.0.1"
NOT_ROUTED = "fogbank: no app is served for this host\n"
# Set by the front on every request (overwriting whatever a client sent), read by the switch.
ENTRY_HEADER = "X-Fogbank-Entry"
CLIENT_HEADER = "X-Fogbank-Client"
HTTP_ENTRY = "domains"  # the front's http_port
HTTPS_ENTRY = "domains-https"  # the front's https_port (TLS ended in the front)
ASK_ENTRY = "ask"  # the front asking whether a host may get a certificate
# How long the front keeps retrying to reach a switch that is reloading or restarting.
SWITCH_DIAL_RETRY = {"try_duration": "10s", "try_interval": "50ms"}
# Several upstreams: a refused dial (a task being replaced) is retried on another, and that
# upstream is skipped for a while.
UPSTREAMS_RETRY = {"try_duration": "5s", "try_interval": "50ms"}
UPSTREAMS_PASSIVE = {"passive": {"fail_duration": "10s", "max_fails": 1}}
# Instances of fogbank behind one edge: a request that reached an instance which then died is
# sent again to another only when that is safe.
IDEMPOTENT = [{"method": ["GET", "HEAD", "OPTIONS"]}]
LOG_ROLL = {"roll_size_mb": 10, "roll_keep": 3}

Handler = dict[str, Any]


def caddy_config(routes: Sequence[Route], layout: EdgeLayout) -> dict[str, Any]:
    """The whole single-layer config: every listener proxies straight to the upstreams."""
    settings, tls_on = layout.settings, layout.settings.tls != "off"
    ports = _public_ports(routes, layout)
    servers = {f"public-{port}": _server(layout, port, [_handle(_proxy(r))]) for port, r in ports}
    http = _api_routes(layout, on_https=False)
    if tls_on:
        hosts = list(_certified_hosts(routes, layout.api))
        if hosts:
            ok = _handle(_answer(200, "ok\n"))
            http.insert(0, tls.ask_route(layout, ok, extra_match={"query": {"domain": hosts}}))
        http += _domain_routes(routes, {}, lambda _: tls.redirect(settings))
        https = _api_routes(layout, on_https=True)
        https += _domain_routes(routes, {}, _proxy)
        servers["https"] = tls.https_server(layout, [*https, _not_routed()])
    else:
        http += _domain_routes(routes, {}, _proxy)
    servers["domains"] = _server(layout, settings.http_port, [*http, _not_routed()])
    admin = {"listen": urlsplit(settings.admin_url).netloc}
    return _document(layout, "caddy", admin, servers)


def front_config(routes: Sequence[Route], layout: EdgeLayout) -> dict[str, Any]:
    """The front layer: the client-facing listeners, each tagging its requests with its entry
    and handing them to the switch. Depends only on the set of ports, not on upstreams or hosts."""
    settings, tls_on = layout.settings, layout.settings.tls != "off"
    http = _api_routes(layout, on_https=False)
    if tls_on:
        http = [tls.ask_route(layout, _handle(_to_switch(ASK_ENTRY, layout))), *http]
    entries = [(f"port-{port}", port) for port, _ in _public_ports(routes, layout)]
    servers = {
        name: _server(layout, port, [_handle(_to_switch(name, layout))]) for name, port in entries
    }
    servers["domains"] = _server(
        layout, settings.http_port, [*http, _handle(_to_switch(HTTP_ENTRY, layout))]
    )
    if tls_on:
        https = _api_routes(layout, on_https=True)
        https.append(_handle(_to_switch(HTTPS_ENTRY, layout)))
        servers["https"] = tls.https_server(layout, https)
    admin = {"listen": f"unix/{layout.paths.front_admin}", "origins": ["caddy"]}
    return _document(layout, "front", admin, servers)


def switch_config(routes: Sequence[Route], layout: EdgeLayout) -> dict[str, Any]:
    """The switch layer: the routing table from a front entry (and Host) to each upstream."""
    settings = layout.settings
    table = [
        {"match": [_entry(f"port-{port}")], **_handle(_from_front(route, "http")), "terminal": True}
        for port, route in _public_ports(routes, layout)
    ]
    if settings.tls == "off":
        table += _domain_routes(routes, _entry(HTTP_ENTRY), lambda r: _from_front(r, "http"))
    else:
        table += _domain_routes(routes, _entry(HTTP_ENTRY), lambda _: tls.redirect(settings))
        table += _domain_routes(routes, _entry(HTTPS_ENTRY), lambda r: _from_front(r, "https"))
        hosts = list(_certified_hosts(routes, layout.api))
        if hosts:
            asked = [{**_entry(ASK_ENTRY), "query": {"domain": hosts}}]
            table.append({"match": asked, **_handle(_answer(200, "ok\n")), "terminal": True})
    server = {
        "listen": [f"unix/{layout.paths.switch_listen}"],
        "automatic_https": {"disable": True},
        "routes": [*table, _not_routed()],
    }
    admin = {"listen": f"unix/{layout.paths.switch_admin}", "origins": ["caddy"]}
    return _document(layout, "switch", admin, {"switch": server}, with_tls=False)


def _public_ports(routes: Sequence[Route], layout: EdgeLayout) -> list[tuple[int, Route]]:
    """(port, route) per public port, refusing ports used twice or by the edge itself."""
    settings = layout.settings
    taken = {settings.http_port: "edge.http_port"}
    if settings.tls != "off":
        taken[settings.https_port] = "edge.https_port"
    if not settings.manage:
        taken[urlsplit(settings.admin_url).port or 0] = "the admin API"
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


def _certified_hosts(routes: Sequence[Route], api: ApiSite | None) -> tuple[str, ...]:
    """The hosts a certificate may be obtained for: every domain, and the API's https host."""
    hosts = {host for route in routes for host in route.hostnames}
    if api is not None and api.https:
        hosts.add(api.host)
    return tuple(sorted(hosts))


def _domain_routes(
    routes: Sequence[Route], match: dict[str, Any], action: Callable[[Route], Handler]
) -> list[dict[str, Any]]:
    return [
        {"match": [{**match, "host": list(r.hostnames)}], **_handle(action(r)), "terminal": True}
        for r in routes
        if r.hostnames
    ]


def _api_routes(layout: EdgeLayout, *, on_https: bool) -> list[dict[str, Any]]:
    """fogbank's API on the listener that serves its scheme; with TLS on, plain HTTP of an https
    public URL redirects. Straight to fogbank, not through the switch: a switch reload closes
    the WebSockets it carries, and a deploy must not close the sockets watching it."""
    api = layout.api
    if api is None:
        return []
    match = [{"host": [api.host]}]
    served_on_https = api.https and layout.settings.tls != "off"
    if served_on_https == on_https:
        return [{"match": match, **_handle(_api_proxy(api)), "terminal": True}]
    if served_on_https:
        return [{"match": match, **_handle(tls.redirect(layout.settings)), "terminal": True}]
    return []


def _api_proxy(api: ApiSite) -> Handler:
    """To fogbank; with several instances sharing the edge, balanced over them: a dead one is
    found by its failed dials, skipped for a while, and its requests go to another. (No active
    health probe: Caddy 2.6 kept a healthy instance out of the balance with one.)"""
    upstreams = [{"dial": address} for address in api.upstreams]
    proxy: Handler = {"handler": "reverse_proxy", "upstreams": upstreams, "flush_interval": -1}
    if len(upstreams) == 1:
        return proxy
    return {
        **proxy,
        "load_balancing": {**UPSTREAMS_RETRY, "retry_match": IDEMPOTENT},
        "health_checks": UPSTREAMS_PASSIVE,
    }


def _document(
    layout: EdgeLayout,
    layer: str,
    admin: dict[str, Any],
    servers: dict[str, Any],
    *,
    with_tls: bool = True,
) -> dict[str, Any]:
    settings = layout.settings
    http: dict[str, Any] = {
        # Requests still in flight on the old config get this long after a /load.
        "grace_period": f"{settings.drain_seconds:g}s",
        "servers": servers,
    }
    apps: dict[str, Any] = {"http": http}
    if with_tls and settings.tls != "off":
        http["http_port"], http["https_port"] = settings.http_port, settings.https_port
        apps["tls"] = tls.tls_app(layout)
    document = {
        # Our config is the only truth: nothing autosaved, no --resume of a stale one.
        "admin": {**admin, "config": {"persist": False}},
        "apps": apps,
    }
    if settings.manage:  # our own Caddy logs into the edge directory, rotated by Caddy
        writer = {"output": "file", "filename": str(layout.paths.log(layer)), **LOG_ROLL}
        document["logging"] = {"logs": {"default": {"writer": writer}}}
    return document


def _server(layout: EdgeLayout, port: int, routes: list[dict[str, Any]]) -> dict[str, Any]:
    # Plain HTTP on these ports: no certificates, no automatic redirects (ours are explicit).
    # No access log: nothing about requests (let alone their bodies) is written.
    return {
        "listen": [tls.listen_address(layout.settings, port)],
        "automatic_https": {"disable": True},
        "routes": routes,
    }


def _entry(name: str) -> dict[str, Any]:
    return {"header": {ENTRY_HEADER: [name]}}


def _handle(handler: Handler) -> dict[str, Any]:
    return {"handle": [handler]}


def _answer(status: int, body: str) -> Handler:
    return {"handler": "static_response", "status_code": status, "body": body}


def _proxy(route: Route) -> Handler:
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


def _to_switch(entry: str, layout: EdgeLayout) -> Handler:
    return {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": f"unix/{layout.paths.switch_listen}"}],
        "transport": {"protocol": "http", "keep_alive": {"enabled": False}},
        "load_balancing": SWITCH_DIAL_RETRY,
        "headers": {
            "request": {
                "set": {ENTRY_HEADER: [entry], CLIENT_HEADER: ["{http.request.remote.host}"]}
            }
        },
    }


def _from_front(route: Route, scheme: str) -> Handler:
    # Caddy drops X-Forwarded-* from a unix-socket peer; restore them from what the front saw.
    forwarded = {
        "X-Forwarded-For": [f"{{http.request.header.{CLIENT_HEADER}}}"],
        "X-Forwarded-Proto": [scheme],
        "X-Forwarded-Host": ["{http.request.host}"],
    }
    headers = {"request": {"set": forwarded, "delete": [ENTRY_HEADER, CLIENT_HEADER]}}
    return {**_proxy(route), "headers": headers}


def _not_routed() -> dict[str, Any]:
    return _handle(_answer(404, NOT_ROUTED))
