"""The service template catalogue: what a database app created with `templateName` runs. The
entries ship with the package (templates.toml); a file named by `templates.catalogue_file` adds
entries or overrides keys of them. Checked once at start: a bad entry is a ConfigError naming
the file, the entry and the key."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from controller.errors import ConfigError
from controller.runtime.reference import parse

PACKAGED = "templates.toml"
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
SECRET_PLACEHOLDER = "{password}"  # noqa: S105 (a placeholder, not a password)
# Placeholders an entry may use; `url` may also name where the database is reached.
VALUES = {"user", "password", "database"}
URL_VALUES = VALUES | {"host", "port"}
REQUIRED = ("image", "tag", "port", "data_dir", "user", "database", "url", "env")
OPTIONAL = ("description", "health_command", "command")
ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
TEMPLATE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    image: str  # the repository, without a tag
    tag: str
    port: int
    data_dir: str
    user: str
    database: str
    url: str
    env: dict[str, str] = field(default_factory=dict)
    health_command: tuple[str, ...] = ()  # empty: a TCP connect
    command: tuple[str, ...] = ()  # empty: the image's own

    @property
    def reference(self) -> str:
        return f"{self.image}:{self.tag}"

    @property
    def password_env(self) -> str:
        """The env var that holds the generated password as is."""
        return next(key for key, value in self.env.items() if value == SECRET_PLACEHOLDER)

    def fill(self, text: str, password: str) -> str:
        """`text` with {user}, {password} and {database} filled in."""
        values = {"user": self.user, "password": password, "database": self.database}
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


class Catalogue:
    def __init__(self, templates: dict[str, Template]) -> None:
        self._templates = dict(sorted(templates.items()))

    @classmethod
    def load(cls, extra_file: str = "") -> Catalogue:
        """The packaged entries, then those of `extra_file` (when named) over them."""
        packaged = resources.files(__package__ or "controller.apps").joinpath(PACKAGED)
        raw = _parse(packaged.read_text(encoding="utf-8"), PACKAGED)
        if extra_file:
            try:
                text = Path(extra_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"templates.catalogue_file {extra_file}: cannot read it ({exc.strerror})"
                ) from exc
            for name, entry in _parse(text, extra_file).items():
                raw[name] = {**raw.get(name, {}), **entry}
        return cls(
            {name: _template(name, entry, extra_file or PACKAGED) for name, entry in raw.items()}
        )

    def get(self, name: str) -> Template | None:
        return self._templates.get(name)

    def names(self) -> list[str]:
        return list(self._templates)

    def all(self) -> list[Template]:
        return list(self._templates.values())


def _parse(text: str, source: str) -> dict[str, dict[str, Any]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"template catalogue {source} is not valid TOML: {exc}") from exc
    for name, entry in data.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"template catalogue {source}: '{name}' must be a table")
    return data


def _template(name: str, entry: dict[str, Any], source: str) -> Template:
    def fail(message: str) -> ConfigError:
        return ConfigError(f"template catalogue {source}: template '{name}': {message}")

    if not TEMPLATE_NAME.fullmatch(name):
        raise fail("names are lowercase letters, digits and '-'")
    unknown = set(entry) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        raise fail(f"unknown key '{sorted(unknown)[0]}'")
    missing = [key for key in REQUIRED if key not in entry]
    if missing:
        raise fail(f"'{missing[0]}' is required")
    text = {key: entry[key] for key in ("image", "tag", "data_dir", "user", "database", "url")}
    text["description"] = entry.get("description", name)
    for key, value in text.items():
        if not isinstance(value, str) or not value or "\n" in value:
            raise fail(f"'{key}' must be a one-line string")
    try:
        parse(f"{text['image']}:{text['tag']}")
    except ValueError as exc:
        raise fail(f"image and tag: {exc}") from exc
    port = entry["port"]
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise fail("'port' must be a number between 1 and 65535")
    if not text["data_dir"].startswith("/") or ".." in text["data_dir"].split("/"):
        raise fail("'data_dir' must be an absolute path")
    env = entry["env"]
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and ENV_KEY.fullmatch(k) and isinstance(v, str) for k, v in env.items()
    ):
        raise fail("'env' must map variable names to strings")
    if SECRET_PLACEHOLDER not in env.values():
        raise fail("one env var must be exactly '{password}' (the generated password)")
    commands = {key: _argv(entry.get(key, []), key, fail) for key in ("health_command", "command")}
    for where, value in [("url", text["url"]), *env.items(), *_each(commands)]:
        allowed = URL_VALUES if where == "url" else VALUES
        for placeholder in PLACEHOLDER.findall(value):
            if placeholder not in allowed:
                raise fail(f"'{where}' names an unknown placeholder {{{placeholder}}}")
    if any(SECRET_PLACEHOLDER in part for part in commands["command"] + commands["health_command"]):
        raise fail("commands must not hold {password} (a command line is not secret)")
    return Template(
        name=name,
        port=port,
        env=dict(env),
        health_command=commands["health_command"],
        command=commands["command"],
        **text,
    )


def _argv(value: Any, key: str, fail: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(part, str) for part in value):
        raise fail(f"'{key}' must be a list of strings")
    return tuple(value)


def _each(commands: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    return [(key, part) for key, parts in commands.items() for part in parts]
