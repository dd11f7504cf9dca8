"""Who is calling and over which scheme, behind a proxy: X-Forwarded-For and X-Forwarded-Proto
are believed only from a direct peer listed in server.trusted_proxies (the edge, 127.0.0.1, when
it serves the API at server.public_url). Anybody else could write those headers themselves."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from quart import current_app, request
from quart.wrappers import Request, Websocket

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
CONFIG_KEY = "FOGBANK_TRUSTED_PROXIES"
PUBLIC_URL_KEY = "FOGBANK_PUBLIC_URL"


def networks(trusted: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def client_address(source: Request | Websocket) -> str:
    """The client's address: the peer's, or, from a trusted peer, the nearest address in
    X-Forwarded-For that is not itself a trusted proxy."""
    peer = source.remote_addr or ""
    trusted: tuple[Network, ...] = current_app.config[CONFIG_KEY]
    if not _within(peer, trusted):
        return peer
    hops = [
        hop.strip()
        for header in source.headers.getlist("X-Forwarded-For")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if _address(hop) is None:
            return peer  # a garbled chain: believe nothing of it
        if not _within(hop, trusted):
            return hop
    return hops[0] if hops else peer


def request_scheme(source: Request | Websocket) -> str:
    """ "https" or "http": X-Forwarded-Proto from a trusted peer, else the connection's own."""
    trusted: tuple[Network, ...] = current_app.config[CONFIG_KEY]
    if _within(source.remote_addr or "", trusted):
        forwarded = source.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if forwarded in ("http", "https"):
            return forwarded
    return "https" if source.scheme in ("https", "wss") else "http"


def public_root() -> str:
    """Where users (and GitHub) reach fogbank: server.public_url when set, else the root this
    request used."""
    public_url: str = current_app.config[PUBLIC_URL_KEY]
    return (public_url or request.url_root).rstrip("/")


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _within(text: str, trusted: tuple[Network, ...]) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in trusted)
