"""One Caddy's admin API: a unix socket in the edge's private directory (our two layers) or a
loopback URL (a Caddy fogbank does not manage). /load gives it a whole config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from controller.edge.caddy import config_bytes
from controller.errors import EdgeError

PING_TIMEOUT_SECONDS = 2.0


class EdgeUnreachable(EdgeError):
    """Caddy's admin API did not answer (as opposed to refusing a config)."""


class AdminApi:
    def __init__(
        self, name: str, *, socket: Path | None = None, url: str = "", timeout: float = 10.0
    ) -> None:
        self.name = name
        self.where = str(socket) if socket is not None else url
        if socket is not None:
            self._client = httpx.AsyncClient(
                base_url="http://caddy",  # the Host the socket's admin API allows (origins)
                transport=httpx.AsyncHTTPTransport(uds=str(socket)),
                timeout=timeout,
            )
        else:
            self._client = httpx.AsyncClient(base_url=url, timeout=timeout)

    async def answers(self) -> bool:
        return await self.running_config() is not None

    async def running_config(self) -> Any | None:
        """The config this Caddy runs, or None when its admin API does not answer."""
        try:
            response = await self._client.get("/config/", timeout=PING_TIMEOUT_SECONDS)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    async def runs(self, config: dict[str, Any]) -> bool:
        """Whether this Caddy runs exactly `config` (unreachable: False)."""
        expected: Any = json.loads(config_bytes(config))
        return bool(await self.running_config() == expected)

    async def load(self, config: dict[str, Any]) -> None:
        """Replace the whole config (Caddy skips a reload when nothing changed)."""
        try:
            response = await self._client.post(
                "/load", content=config_bytes(config), headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise EdgeUnreachable(
                f"Caddy's admin API ({self.name}) is unreachable: {exc or type(exc).__name__}"
            ) from exc
        if response.status_code != 200:
            raise EdgeError(f"Caddy ({self.name}) refused the routes: {_reason(response)}")

    async def aclose(self) -> None:
        await self._client.aclose()


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return f"{body['error'].strip()} (HTTP {response.status_code})"
    return f"HTTP {response.status_code}: {response.text[:300]}"
