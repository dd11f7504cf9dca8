"""load_settings: the one way fogbank reads its settings, every failure a ConfigError that
names the key (and, for a number, its range)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from controller.config.settings import Settings, read
from controller.errors import ConfigError

CONFIG_PATH_ENV = "FOGBANK_CONFIG"
SHOULD_BE = "Input should be "


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """The settings from defaults, the TOML file (`path`, else $FOGBANK_CONFIG), the
    environment (`environ`, else the process's) and `<key>_file` files."""
    env = os.environ if environ is None else environ
    if path is None and env.get(CONFIG_PATH_ENV):
        path = Path(env[CONFIG_PATH_ENV])
    if path is not None and not path.expanduser().is_file():
        state = "is not a file" if path.expanduser().exists() else "does not exist"
        raise ConfigError(f"config file {path} {state}")
    try:
        return read(path, env)
    except ValidationError as exc:
        raise ConfigError("; ".join(describe(error) for error in exc.errors())) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None


def describe(error: ErrorDetails) -> str:
    """One validation error as a sentence that starts with the setting's dotted name."""
    loc = [str(part) for part in error["loc"]]
    key = ".".join(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown setting '{key}'" if len(loc) > 1 else f"unknown settings section '{key}'"
    if len(loc) == 1 and kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"settings section '{key}' must be a table"
    field = _field(loc)
    got = "" if field is not None and not field.repr else f" (got {_shown(error['input'])})"
    if kind == "value_error":
        reason = str(error.get("ctx", {}).get("error", error["msg"]))
        return f"{key}.{reason}" if len(loc) == 1 else f"{key} {reason}{got}"
    if field is not None and field.annotation in (int, float):
        number = "an integer" if field.annotation is int else "a number"
        return " ".join(filter(None, [f"{key} must be {number}", allowed_range(field)])) + got
    message = error["msg"]
    if message.startswith(SHOULD_BE):
        return f"{key} must be {message.removeprefix(SHOULD_BE)}{got}"
    return f"{key}: {message}{got}"


def _field(loc: list[str]) -> FieldInfo | None:
    if len(loc) != 2 or loc[0] not in Settings.model_fields:
        return None
    section = Settings.model_fields[loc[0]].annotation
    if not (isinstance(section, type) and issubclass(section, BaseModel)):
        return None
    return section.model_fields.get(loc[1])


def allowed_range(field: FieldInfo) -> str:
    """A number's bounds in words: 'between 1 and 64', 'more than 0 and at most 3600'."""
    low = high = ""
    for bound in field.metadata:
        if isinstance(bound, Ge):
            low = f"at least {bound.ge}"
        elif isinstance(bound, Gt):
            low = f"more than {bound.gt}"
        elif isinstance(bound, Le):
            high = f"at most {bound.le}"
        elif isinstance(bound, Lt):
            high = f"less than {bound.lt}"
    if low.startswith("at least") and high.startswith("at most"):
        return f"between {low.removeprefix('at least ')} and {high.removeprefix('at most ')}"
    return " and ".join(part for part in (low, high) if part)


def _shown(value: Any) -> str:
    # Environment values are text: show "0" as 0, as it was typed, and "two" as 'two'.
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return repr(value)
    return str(value)
