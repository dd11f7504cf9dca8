"""The settings tree and where its values come from (pydantic-settings sources, highest
priority first): keyword arguments, `FOGBANK_<SECTION>__<KEY>` variables, the TOML file."""

from __future__ import annotations

import hashlib
import re
import socket
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, NamedTuple

from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from controller.config.reporting import LogSettings, MetricsSettings, NotifySettings
from controller.config.runtime import RuntimeSettings
from controller.config.sections import (
    AuthSettings,
    BuildSettings,
    ClusterSettings,
    ControllerSettings,
    DatabaseSettings,
    DeploySettings,
    EdgeSettings,
    GithubSettings,
    GitSettings,
    HistorySettings,
    SecuritySettings,
    ServerSettings,
    StorageSettings,
    TemplateSettings,
)

ENV_PREFIX = "FOGBANK_"
SQLITE_AUTOCHECKPOINT_PAGES = 20_000


class _Sources(NamedTuple):
    toml_file: Path | None
    environ: Mapping[str, str]


# Set only while `read` builds a Settings; unset, Settings() holds defaults and its arguments.
_reading: ContextVar[_Sources | None] = ContextVar("fogbank_settings_sources", default=None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    database: DatabaseSettings = DatabaseSettings()
    controller: ControllerSettings = ControllerSettings()
    cluster: ClusterSettings = ClusterSettings()
    deploy: DeploySettings = DeploySettings()
    build: BuildSettings = BuildSettings()
    history: HistorySettings = HistorySettings()
    git: GitSettings = GitSettings()
    github: GithubSettings = GithubSettings()
    auth: AuthSettings = AuthSettings()
    security: SecuritySettings = SecuritySettings()
    edge: EdgeSettings = EdgeSettings()
    log: LogSettings = LogSettings()
    metrics: MetricsSettings = MetricsSettings()
    notify: NotifySettings = NotifySettings()
    templates: TemplateSettings = TemplateSettings()
    runtime: RuntimeSettings = RuntimeSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Highest priority first. Outside `read` only keyword arguments count, so a
        Settings() built in code never depends on the process environment."""
        sources = _reading.get()
        if sources is None:
            return (init_settings,)
        layers = [init_settings, EnvironmentSource(settings_cls, sources.environ)]
        if sources.toml_file is not None:
            layers.append(TomlConfigSettingsSource(settings_cls, toml_file=sources.toml_file))
        return tuple(layers)

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        # Checkpoints run off the request path (controller/store/checkpoint.py); the automatic
        # one is only the safety net, at 20,000 pages (about 80 MB) instead of 1,000.
        path = (self.storage.data_dir / "fogbank.db").resolve()
        return (
            f"sqlite://{path}?wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}"
            f"&synchronous={self.database.sqlite_synchronous.upper()}"
        )

    @property
    def instance_name(self) -> str:
        """cluster.instance, or `<host>-<8 hex of data_dir's absolute path>`."""
        if self.cluster.instance:
            return self.cluster.instance
        host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:100] or "host"
        where = str(self.storage.data_dir.resolve()).encode()
        return f"{host}-{hashlib.sha256(where).hexdigest()[:8]}"

    @property
    def key_file(self) -> Path:
        if self.security.key_file:
            return Path(self.security.key_file)
        return self.storage.data_dir / "secret.key"

    @property
    def logs_dir(self) -> Path:
        return self.storage.data_dir / "logs"

    @property
    def git_dir(self) -> Path:
        return self.storage.data_dir / "git"

    @property
    def builds_dir(self) -> Path:
        return self.storage.data_dir / "builds"


class EnvironmentSource(PydanticBaseSettingsSource):
    """`FOGBANK_<SECTION>__<KEY>` variables whose section is a settings section, as
    {section: {key: text}}. Any other FOGBANK_* variable (FOGBANK_CONFIG, scripts' and the test
    suite's own) is not a setting and is left alone; an unknown key of a real section is kept,
    so validation refuses it by name."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every section at once

    def __call__(self) -> dict[str, Any]:
        values: dict[str, dict[str, str]] = {}
        for name, value in self._environ.items():
            if not name.upper().startswith(ENV_PREFIX):
                continue
            section, delimiter, key = name[len(ENV_PREFIX) :].lower().partition("__")
            if delimiter and key and section in self.settings_cls.model_fields:
                values.setdefault(section, {})[key] = value
        return values


def read(toml_file: Path | None, environ: Mapping[str, str]) -> Settings:
    """Settings from defaults, then `toml_file`, then `environ`. Raises pydantic's
    ValidationError, or tomllib's or the file system's errors, unchanged."""
    token = _reading.set(_Sources(toml_file, environ))
    try:
        return Settings()
    finally:
        _reading.reset(token)
