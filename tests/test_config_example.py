"""config.example.toml documents every setting: its real default, one comment, and for a number
the range the settings enforce."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import BaseModel

from controller.config import Settings, load_settings
from controller.config.load import allowed_range

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
SETTING_LINE = re.compile(r"^(\w+) = .*?# (?P<comment>.+)$")
SECTION_LINE = re.compile(r"^\[(\w+)\]$")


def documented_comments() -> dict[str, str]:
    """'section.key' -> that line's comment."""
    comments: dict[str, str] = {}
    section = ""
    for line in EXAMPLE.read_text().splitlines():
        if header := SECTION_LINE.match(line):
            section = header.group(1)
        elif setting := SETTING_LINE.match(line):
            comments[f"{section}.{setting.group(1)}"] = setting.group("comment")
    return comments


def test_example_lists_every_setting_with_its_default_a_comment_and_its_range() -> None:
    documented = tomllib.loads(EXAMPLE.read_text())
    comments = documented_comments()
    expected: set[str] = set()
    for name, section_field in Settings.model_fields.items():
        section = section_field.annotation
        assert isinstance(section, type) and issubclass(section, BaseModel)
        for key, field in section.model_fields.items():
            expected.add(f"{name}.{key}")
            assert key in documented.get(name, {}), f"{name}.{key} is not in the example"
            comment = comments.get(f"{name}.{key}", "")
            assert comment, f"{name}.{key} has no comment"
            if field.annotation in (int, float):
                assert comment.endswith(f"[{allowed_range(field)}]"), f"{name}.{key}: {comment}"
    assert set(comments) == expected
    assert load_settings(EXAMPLE, environ={}) == Settings()
