"""Typed, frozen settings.

Loaded once, in this order, each layer overriding the one before:
defaults -> TOML file -> ``FOGBANK_<SECTION>__<KEY>`` environment -> ``<key>_file`` secrets.
Unknown sections or keys are an error naming the key. Nothing else in fogbank reads os.environ.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from controller.errors import ConfigError

ENV_PREFIX = "FOGBANK_"
CONFIG_PATH_ENV = "FOGBANK_CONFIG"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


EVENT_LOOPS = ("uvloop", "asyncio")
SQLITE_AUTOCHECKPOINT_PAGES = 20_000
SQLITE_SYNCHRONOUS = ("normal", "full")


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    # Origins allowed to open cookie-authenticated WebSockets; empty means same host only.
    allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1024 * 1024
    # "uvloop" (libuv's event loop, what Hypercorn's worker_class = "uvloop" uses) or the
    # standard library's "asyncio". uvloop serves about a fifth more requests per second here.
    event_loop: str = "uvloop"

    def __post_init__(self) -> None:
        if self.event_loop not in EVENT_LOOPS:
            raise ConfigError(
                f"server.event_loop must be one of {', '.join(EVENT_LOOPS)}, not {self.event_loop!r}"
            )


@dataclass(frozen=True)
class StorageSettings:
    data_dir: Path = Path("./data")


@dataclass(frozen=True)
class DatabaseSettings:
    # Empty means SQLite at <data_dir>/fogbank.db.
    url: str = ""
    # That SQLite file's durability (its WAL is synced at every checkpoint, every 2 s):
    # "normal": a commit survives a crash or kill of fogbank; a power loss or kernel crash may
    #   lose the last seconds of commits (SQLite's advice for WAL, and Rails 8's default);
    # "full": every commit is synced to disk before it returns; slower when other programs
    #   (Docker builds) are writing to the same disk.
    sqlite_synchronous: str = "normal"

    def __post_init__(self) -> None:
        if self.sqlite_synchronous not in SQLITE_SYNCHRONOUS:
            raise ConfigError(
                f"database.sqlite_synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}, "
                f"not {self.sqlite_synchronous!r}"
            )


@dataclass(frozen=True)
class ControllerSettings:
    workers: int = 2
    shutdown_timeout_seconds: float = 30.0
    keep_images: int = 5
    reconcile_interval_seconds: float = 15.0


@dataclass(frozen=True)
class BuildSettings:
    timeout_seconds: float = 900.0
    memory_limit_mb: int = 2048
    cpu_shares: int = 512
    max_line_chars: int = 4096
    max_log_bytes: int = 10 * 1024 * 1024
    min_free_disk_mb: int = 1024
    max_context_bytes: int = 1024 * 1024 * 1024
    max_files: int = 100_000


@dataclass(frozen=True)
class FaultSettings:
    """Fault injection for crash tests: hold every deployment this long in this stage."""

    pause_in_stage: str = ""
    pause_seconds: float = 0.0


@dataclass(frozen=True)
class HistorySettings:
    keep_deployments: int = 100
    keep_webhook_deliveries: int = 10_000


@dataclass(frozen=True)
class DeploySettings:
    health_timeout_seconds: float = 30.0
    health_interval_seconds: float = 1.0
    stop_timeout_seconds: int = 10


@dataclass(frozen=True)
class GitSettings:
    allow_local: bool = False
    timeout_seconds: float = 120.0


@dataclass(frozen=True)
class GithubSettings:
    webhook_secret: str = field(default="", repr=False)
    max_body_bytes: int = 25 * 1024 * 1024


@dataclass(frozen=True)
class AuthSettings:
    session_ttl_seconds: int = 7 * 24 * 3600
    cookie_secure: bool = False
    login_failures_per_minute: int = 5


@dataclass(frozen=True)
class EdgeSettings:
    # Start and supervise our own Caddy; false: use the one answering at admin_url.
    manage: bool = True
    caddy_binary: str = "caddy"
    admin_url: str = "http://127.0.0.1:2019"
    http_port: int = 8000
    bind_address: str = "127.0.0.1"
    drain_seconds: float = 2.0

    def __post_init__(self) -> None:
        # The admin API can rewrite every route; it must never be reachable from the network.
        parts = urlsplit(self.admin_url)
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
            raise ConfigError(
                f"edge.admin_url must be http://127.0.0.1:<port> (loopback only), "
                f"not {self.admin_url!r}"
            )


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    database: DatabaseSettings = DatabaseSettings()
    controller: ControllerSettings = ControllerSettings()
    deploy: DeploySettings = DeploySettings()
    build: BuildSettings = BuildSettings()
    history: HistorySettings = HistorySettings()
    faults: FaultSettings = FaultSettings()
    git: GitSettings = GitSettings()
    github: GithubSettings = GithubSettings()
    auth: AuthSettings = AuthSettings()
    edge: EdgeSettings = EdgeSettings()

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        # Checkpoints run off the request path (controller/walcheckpoint.py); the automatic one
        # is only the safety net, at 20,000 pages (about 80 MB) instead of 1,000.
        path = (self.storage.data_dir / "fogbank.db").resolve()
        return (
            f"sqlite://{path}?wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}"
            f"&synchronous={self.database.sqlite_synchronous.upper()}"
        )

    @property
    def logs_dir(self) -> Path:
        return self.storage.data_dir / "logs"

    @property
    def git_dir(self) -> Path:
        return self.storage.data_dir / "git"

    @property
    def builds_dir(self) -> Path:
        return self.storage.data_dir / "builds"


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings tree from defaults, the TOML file, the environment and secret files."""
    env = os.environ if environ is None else environ
    if path is None and env.get(CONFIG_PATH_ENV):
        path = Path(env[CONFIG_PATH_ENV])
    raw: dict[str, dict[str, Any]] = {}
    if path is not None:
        raw = _read_toml(path)
    _merge_env(raw, env)
    sections: dict[str, Any] = {}
    hints = typing.get_type_hints(Settings)
    for section_name, section_values in raw.items():
        if section_name not in hints:
            raise ConfigError(f"unknown settings section '{section_name}'")
        if not isinstance(section_values, dict):
            raise ConfigError(f"settings '{section_name}' must be a table")
        sections[section_name] = _build_section(section_name, hints[section_name], section_values)
    return Settings(**sections)


def _read_toml(path: Path) -> dict[str, dict[str, Any]]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc


def _merge_env(raw: dict[str, dict[str, Any]], env: Mapping[str, str]) -> None:
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_PATH_ENV:
            continue
        if name.startswith("FOGBANK_TEST_"):
            continue  # the test suite's own switches, not settings
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"environment variable {name} must look like FOGBANK_SECTION__KEY")
        section, key = parts
        raw.setdefault(section, {})[key] = value


def _build_section(section: str, cls: Any, values: dict[str, Any]) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    secret_files: dict[str, Any] = {}
    for key, value in values.items():
        if key.endswith("_file") and key[: -len("_file")] in known:
            secret_files[key[: -len("_file")]] = value
            continue
        if key not in known:
            raise ConfigError(f"unknown setting '{section}.{key}'")
        kwargs[key] = _coerce(f"{section}.{key}", hints[key], value)
    for key, file_path in secret_files.items():
        try:
            secret = Path(str(file_path)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {section}.{key}_file {file_path}: {exc}") from exc
        kwargs[key] = _coerce(f"{section}.{key}", hints[key], secret)
    return cls(**kwargs)


def _coerce(name: str, hint: Any, value: Any) -> Any:
    """Turn a TOML or environment value into the setting's type, or fail naming the setting."""
    origin = typing.get_origin(hint)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on"}:
            return True
        if isinstance(value, str) and value.lower() in {"0", "false", "no", "off"}:
            return False
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, str):
            return value
    elif hint is Path:
        if isinstance(value, str):
            return Path(value)
    elif origin is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if isinstance(items, list):
            return tuple(str(item).strip() for item in items if str(item).strip())
    elif origin in (typing.Union, types.UnionType):
        raise ConfigError(f"setting {name} has an unsupported type")
    raise ConfigError(f"setting {name} has an invalid value {value!r}")
