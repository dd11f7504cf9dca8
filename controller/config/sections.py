"""The sections of the settings, one class per `[section]`: every key, its type, its default
and, for every number, its range. A `<key>_file` entry sets a string key from a file."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FILE_SUFFIX = "_file"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MIB = 1024 * 1024
MAX_PORT = 65_535


class Section(BaseModel):
    """One `[section]`: immutable, and an unknown key is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _read_files(cls, data: Any) -> Any:
        """`<key>_file = PATH` sets the string setting `<key>` to that file's content, so a
        secret stays out of the config file and the environment."""
        if not isinstance(data, dict):
            return data
        values = dict(data)
        for key in [k for k in data if isinstance(k, str) and k.endswith(FILE_SUFFIX)]:
            field = cls.model_fields.get(key.removesuffix(FILE_SUFFIX))
            if field is None or field.annotation is not str:
                continue  # left for extra="forbid" to refuse by name
            values[key.removesuffix(FILE_SUFFIX)] = _read_file(key, values.pop(key))
        return values


def _read_file(key: str, path: Any) -> str:
    if not isinstance(path, str | Path):
        raise ValueError(f"{key} must be a file path")
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{key}: cannot read {path} ({exc.strerror or exc})") from exc


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=MAX_PORT)
    # Origins allowed to open cookie-authenticated WebSockets; empty means same host only.
    allowed_origins: tuple[str, ...] = ()
    # Host headers answered besides host, localhost, 127.0.0.1 and ::1 (others get 421: a
    # DNS-rebinding page cannot reach the API under its own name).
    allowed_hosts: tuple[str, ...] = ()
    max_body_bytes: int = Field(default=MIB, ge=1024, le=1024 * MIB)
    # An API request's body must arrive within this (408 after it).
    read_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    # A WebSocket watcher must take each part of a log's backlog within this (else 1013).
    websocket_send_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    # "uvloop" (libuv's event loop, what Hypercorn's worker_class = "uvloop" uses) or the
    # standard library's "asyncio".
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    # Where users reach fogbank (https://deploy.example.com): the edge serves the API there.
    public_url: str = ""
    # Peers (IPs or CIDRs) whose X-Forwarded-For/-Proto are believed; empty: nobody's.
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("allowed_origins", "allowed_hosts", "trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # An environment variable holds the list as "https://a.example,https://b.example".
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("public_url")
    @classmethod
    def _site(cls, url: str) -> str:
        parts = urlsplit(url)
        if url and (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username is not None
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ValueError("must look like https://deploy.example.com (no path, no user)")
        return url

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, networks: tuple[str, ...]) -> tuple[str, ...]:
        for network in networks:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad one
        return networks


class StorageSettings(Section):
    data_dir: Path = Path("./data")


class DatabaseSettings(Section):
    # Empty means SQLite at <data_dir>/fogbank.db. Kept out of repr: it may hold a password.
    url: str = Field(default="", repr=False)
    # That SQLite file's durability (its WAL is synced at every checkpoint, every 2 s):
    # "normal": a commit survives a crash or kill of fogbank; a power loss or kernel crash may
    #   lose the last seconds of commits (SQLite's advice for WAL, and Rails 8's default);
    # "full": every commit is synced to disk before it returns; slower when other programs
    #   (Docker builds) are writing to the same disk.
    sqlite_synchronous: Literal["normal", "full"] = "normal"


class ControllerSettings(Section):
    # At least one: with none, deployments would be queued and never built.
    workers: int = Field(default=2, ge=1, le=64)
    shutdown_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    keep_images: int = Field(default=5, ge=0, le=1000)
    reconcile_interval_seconds: float = Field(default=15.0, ge=0.1, le=86_400)


class ClusterSettings(Section):
    # This instance's name among those sharing one database; "" derives it from the host name
    # and data_dir, so a restarted instance keeps its name and recovers its own work at once.
    instance: str = Field(default="", pattern=r"^([A-Za-z0-9][A-Za-z0-9._:-]{0,127})?$")
    # An instance silent this long is dead: another takes over its deployments and leadership.
    lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    heartbeat_seconds: float = Field(default=10.0, gt=0, le=1200)

    @model_validator(mode="after")
    def _beat_within_lease(self) -> ClusterSettings:
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError("cluster.heartbeat_seconds must be at most half of lease_seconds")
        return self


class BuildSettings(Section):
    timeout_seconds: float = Field(default=900.0, gt=0, le=86_400)
    memory_limit_mb: int = Field(default=2048, ge=64, le=1024 * 1024)
    # Docker's own bounds for a relative CPU weight.
    cpu_shares: int = Field(default=512, ge=2, le=262_144)
    max_line_chars: int = Field(default=4096, ge=80, le=MIB)
    max_log_bytes: int = Field(default=10 * MIB, ge=64 * 1024, le=1024 * MIB)
    min_free_disk_mb: int = Field(default=1024, ge=0, le=1024 * 1024)
    # A commit's tree (what is exported for a build): total bytes, and files plus directories.
    max_context_bytes: int = Field(default=1024 * MIB, ge=MIB, le=1024 * 1024 * MIB)
    max_files: int = Field(default=100_000, ge=10, le=10_000_000)


class HistorySettings(Section):
    keep_deployments: int = Field(default=100, ge=1, le=100_000)
    keep_webhook_deliveries: int = Field(default=10_000, ge=1, le=10_000_000)


class DeploySettings(Section):
    health_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    health_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    stop_timeout_seconds: int = Field(default=10, ge=0, le=3600)


class GitSettings(Section):
    allow_local: bool = False
    timeout_seconds: float = Field(default=120.0, gt=0, le=3600)


class GithubSettings(Section):
    webhook_secret: str = Field(default="", repr=False)
    max_body_bytes: int = Field(default=25 * MIB, ge=1024, le=1024 * MIB)
    # GitHub gives up on a delivery after 10 s; a body still arriving then is refused (408).
    read_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    # Webhook requests whose signature is not checked yet; more get 503 at once.
    max_unverified_requests: int = Field(default=64, ge=1, le=100_000)
    # Reporting back (controller/notify/): GitHub's REST API, or GitHub Enterprise's
    # (https://HOST/api/v3); plain http only on loopback, where nothing but tests listen.
    api_url: str = "https://api.github.com"
    # Every app whose repository is on that GitHub reports with this token unless it has its own.
    token: str = Field(default="", repr=False)
    commit_statuses: bool = True
    deployments: bool = False
    # GitHub asks integrations to pause between write requests (secondary rate limits).
    request_interval_seconds: float = Field(default=1.0, ge=0, le=60)

    @field_validator("api_url")
    @classmethod
    def _https_unless_loopback(cls, url: str) -> str:
        # The token travels in every request: never in clear text off this machine.
        parts = urlsplit(url)
        secure = parts.scheme == "https" or (
            parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        )
        if not secure or not parts.hostname or parts.query or parts.username is not None:
            raise ValueError("must be https://HOST[/api/v3] (http only for a loopback host)")
        return url.rstrip("/")


class AuthSettings(Section):
    session_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=1, le=366 * 24 * 3600)
    cookie_secure: bool = False
    # Failed logins per minute (attempts being checked count too) before 429: per username,
    # per client address, and over the whole server.
    login_failures_per_minute: int = Field(default=5, ge=1, le=10_000)
    login_failures_per_address_per_minute: int = Field(default=20, ge=1, le=100_000)
    login_failures_overall_per_minute: int = Field(default=200, ge=1, le=1_000_000)


class SecuritySettings(Section):
    # The key that seals secrets in the database (env values, webhook secrets, repository
    # credentials, deploy keys). Empty means <data_dir>/secret.key, created 0600 at first start.
    key_file: str = ""


class TemplateSettings(Section):
    # A TOML file whose entries add to or override the packaged service templates; "" for none.
    catalogue_file: str = ""


class EdgeSettings(Section):
    # Run our own two-layer Caddy (controller/edge/runner.py); false: use the one at admin_url.
    manage: bool = True
    # Start the edge process when none runs (false under systemd: fogbank-edge.service runs it).
    spawn: bool = True
    caddy_binary: str = "caddy"
    # The edge's directory (configs, sockets, logs); "" is <data_dir>/caddy. Instances on one
    # host set the same directory to share one edge (it balances the API over all of them).
    directory: str = ""
    admin_url: str = "http://127.0.0.1:2019"  # only with manage = false
    http_port: int = Field(default=8000, ge=1, le=MAX_PORT)
    https_port: int = Field(default=8443, ge=1, le=MAX_PORT)
    bind_address: str = "127.0.0.1"
    drain_seconds: float = Field(default=2.0, ge=0, le=300)
    # Certificates for domains and the public URL: "off" (plain HTTP), "acme", "internal".
    tls: Literal["off", "acme", "internal"] = "off"
    acme_ca: str = "https://acme-v02.api.letsencrypt.org/directory"
    acme_email: str = ""
    acme_ca_root: str = ""  # PEM file to trust for acme_ca (a private or test CA)

    @model_validator(mode="after")
    def _two_ports(self) -> EdgeSettings:
        if self.tls != "off" and self.https_port == self.http_port:
            raise ValueError("edge.https_port must differ from edge.http_port")
        return self

    @field_validator("admin_url")
    @classmethod
    def _loopback_only(cls, url: str) -> str:
        # The admin API can rewrite every route; it must never be reachable from the network.
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if (
            parts.scheme != "http"
            or parts.hostname not in LOOPBACK_HOSTS
            or port is None
            or parts.path not in ("", "/")
            or parts.query
            or parts.username is not None
        ):
            raise ValueError("must be http://127.0.0.1:<port> (loopback only)")
        return url
