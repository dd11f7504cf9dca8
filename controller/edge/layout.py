"""What the edge's configs depend on besides the routes: the routes themselves, the files and
sockets under the edge directory, and fogbank's own API when the edge serves it
(server.public_url)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from controller.config import EdgeSettings, Settings

UNIX_PATH_MAX = 107
WILDCARD_HOSTS = ("", "0.0.0.0", "::")  # noqa: S104 (names, not a bind)


@dataclass(frozen=True)
class Route:
    """One web app at the edge: its hostnames on the edge's ports and its own public port."""

    app: str
    upstream_port: int
    hostnames: tuple[str, ...]
    public_port: int | None
    # More upstreams of the same app (Swarm tasks); a failed dial moves on to another.
    more_ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class ApiSite:
    """fogbank's API at the edge: the public URL's host, its scheme, where fogbank listens, and
    where the other instances sharing this edge listen (the edge balances over all of them)."""

    host: str
    https: bool
    upstream: str  # host:port of this `fogbank serve`
    peers: tuple[str, ...] = ()

    @property
    def upstreams(self) -> tuple[str, ...]:
        """Every instance's address, this one first, each once."""
        return tuple(dict.fromkeys((self.upstream, *self.peers)))


@dataclass(frozen=True)
class EdgePaths:
    """Everything of the edge under one private (0700) directory: per layer (front, switch) a
    config file (what that Caddy boots with), a pid file and logs, plus the unix sockets."""

    directory: Path

    @property
    def switch_listen(self) -> Path:
        return self.directory / "switch.sock"

    @property
    def switch_admin(self) -> Path:
        return self.directory / "switch-admin.sock"

    @property
    def front_admin(self) -> Path:
        return self.directory / "front-admin.sock"

    def config(self, layer: str) -> Path:
        return self.directory / f"{layer}.json"

    def log(self, layer: str) -> Path:
        """Caddy's own log (rotated by Caddy); startup errors go to `<layer>.stderr`."""
        return self.directory / f"{layer}.log"

    def sockets(self) -> tuple[Path, ...]:
        return (self.switch_listen, self.switch_admin, self.front_admin)

    def too_long(self) -> Path | None:
        """A socket path the kernel cannot bind (over 107 bytes), if any."""
        return next((p for p in self.sockets() if len(str(p).encode()) > UNIX_PATH_MAX), None)


@dataclass(frozen=True)
class EdgeLayout:
    settings: EdgeSettings
    paths: EdgePaths
    api: ApiSite | None = None

    @classmethod
    def of(cls, settings: Settings) -> EdgeLayout:
        # Absolute: Caddy runs in its own working directory (a relative data_dir broke it).
        directory = settings.edge.directory or settings.storage.data_dir / "caddy"
        return cls(settings.edge, EdgePaths(Path(directory).resolve()), api_site(settings))

    def with_peers(self, peers: tuple[str, ...]) -> EdgeLayout:
        """The same layout with the API balanced over these other instances too."""
        if self.api is None or self.api.peers == peers:
            return self
        return replace(self, api=replace(self.api, peers=peers))


def api_address(settings: Settings) -> str:
    """host:port where this `fogbank serve` answers, as the edge dials it."""
    host = settings.server.host
    if host in WILDCARD_HOSTS:
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{settings.server.port}"


def api_site(settings: Settings) -> ApiSite | None:
    """The API's site at the edge, from server.public_url (None when unset)."""
    if not settings.server.public_url:
        return None
    parts = urlsplit(settings.server.public_url)
    assert parts.hostname is not None  # checked when the settings were loaded
    return ApiSite(parts.hostname.lower(), parts.scheme == "https", api_address(settings))
