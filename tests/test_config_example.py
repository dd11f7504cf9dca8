"""config.example.toml documents every setting with its real default."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from controller.config import Settings, load_settings

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def test_example_lists_every_setting_with_its_default() -> None:
    documented = tomllib.loads(EXAMPLE.read_text())
    defaults = Settings()
    for section in dataclasses.fields(Settings):
        values = getattr(defaults, section.name)
        for setting in dataclasses.fields(values):
            assert setting.name in documented.get(section.name, {}), (
                f"{section.name}.{setting.name}"
            )
    loaded = load_settings(EXAMPLE, environ={})
    assert loaded == defaults
