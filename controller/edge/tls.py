"""HTTPS at the edge (edge.tls = "acme" or "internal"): the TLS listener, certificates obtained
on demand at the first handshake for a host the routing table serves (Caddy asks first, so no
stranger's host name gets a certificate), explicit HTTP -> HTTPS redirects, ACME's settings.

On demand, not a list of names in the TLS app: that list would put every domain into the
front's config, and adding a domain would then reload the front (and close its idle client
connections). Caddy renews what it obtained, asking again before each renewal."""

from __future__ import annotations

import ipaddress
from typing import Any

from controller.config import EdgeSettings
from controller.edge.layout import WILDCARD_HOSTS, EdgeLayout

ASK_PATH = "/.well-known/fogbank/ask"
LOOPBACK_RANGES = ["127.0.0.0/8", "::1/128"]


def listen_address(settings: EdgeSettings, port: int) -> str:
    address = settings.bind_address
    host = f"[{address}]" if ":" in address else address
    return f"{host}:{port}"


def https_server(layout: EdgeLayout, routes: list[dict[str, Any]]) -> dict[str, Any]:
    """edge.https_port with TLS on every connection; redirects are ours, not Caddy's."""
    settings = layout.settings
    return {
        "listen": [listen_address(settings, settings.https_port)],
        "tls_connection_policies": [{}],
        "automatic_https": {"disable_redirects": True},
        "routes": routes,
    }


def redirect(settings: EdgeSettings) -> dict[str, Any]:
    """308 to the same host and URI on edge.https_port (308 keeps the method and body)."""
    port = "" if settings.https_port == 443 else f":{settings.https_port}"
    location = f"https://{{http.request.host}}{port}{{http.request.uri}}"
    return {"handler": "static_response", "status_code": 308, "headers": {"Location": [location]}}


def ask_route(
    layout: EdgeLayout, handle: dict[str, Any], *, extra_match: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The route on edge.http_port that answers Caddy's own "may this host get a certificate?"
    (only from this machine: the ask comes from Caddy itself)."""
    match = {"path": [ASK_PATH], "remote_ip": {"ranges": _ask_sources(layout.settings)}}
    return {"match": [{**match, **(extra_match or {})}], **handle, "terminal": True}


def tls_app(layout: EdgeLayout) -> dict[str, Any]:
    settings = layout.settings
    issuer = {"module": "internal"} if settings.tls == "internal" else _acme(settings)
    return {
        "automation": {
            "policies": [{"issuers": [issuer], "on_demand": True}],
            "on_demand": {"ask": ask_url(settings)},
        }
    }


def ask_url(settings: EdgeSettings) -> str:
    host = _ask_host(settings.bind_address)
    return f"http://{host}:{settings.http_port}{ASK_PATH}"


def _acme(settings: EdgeSettings) -> dict[str, Any]:
    # The challenges are answered on the edge's own ports (the CA connects to them), never by
    # a temporary listener on :80 or :443.
    challenges: dict[str, Any] = {
        "http": {"alternate_port": settings.http_port},
        "tls-alpn": {"alternate_port": settings.https_port},
    }
    if settings.bind_address not in WILDCARD_HOSTS:
        challenges["bind_host"] = settings.bind_address
    issuer: dict[str, Any] = {"module": "acme", "ca": settings.acme_ca, "challenges": challenges}
    if settings.acme_email:
        issuer["email"] = settings.acme_email
    if settings.acme_ca_root:
        issuer["trusted_roots_pem_files"] = [settings.acme_ca_root]
    return issuer


def _ask_host(bind_address: str) -> str:
    if bind_address in (*WILDCARD_HOSTS, "localhost"):
        return "127.0.0.1"
    return f"[{bind_address}]" if ":" in bind_address else bind_address


def _ask_sources(settings: EdgeSettings) -> list[str]:
    """Where Caddy's ask comes from: loopback, or the bind address it dials."""
    sources = list(LOOPBACK_RANGES)
    try:
        address = ipaddress.ip_address(settings.bind_address)
    except ValueError:
        return sources
    if not address.is_unspecified and not address.is_loopback:
        sources.append(f"{address}/{address.max_prefixlen}")
    return sources
