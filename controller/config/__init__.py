"""Typed, frozen settings, loaded once by `load_settings`.

Each layer overrides the one before: defaults -> TOML file -> ``FOGBANK_<SECTION>__<KEY>``
environment -> ``<key>_file`` (a string setting read from a file, e.g. a secret). Unknown
sections and keys are refused by name, every number has a range, and any failure is a
ConfigError. Other ``FOGBANK_*`` variables belong to scripts and the test suite and are ignored.
Nothing else in fogbank takes settings from os.environ.
"""

from controller.config.load import load_settings
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
from controller.config.settings import SQLITE_AUTOCHECKPOINT_PAGES, Settings

__all__ = [
    "SQLITE_AUTOCHECKPOINT_PAGES",
    "AuthSettings",
    "BuildSettings",
    "ClusterSettings",
    "ControllerSettings",
    "DatabaseSettings",
    "DeploySettings",
    "EdgeSettings",
    "GitSettings",
    "GithubSettings",
    "HistorySettings",
    "LogSettings",
    "MetricsSettings",
    "NotifySettings",
    "RuntimeSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "StorageSettings",
    "TemplateSettings",
    "load_settings",
]
