"""Settings: defaults -> TOML -> FOGBANK_* env -> *_file secrets; unknown keys named."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import load_settings
from controller.errors import ConfigError


def test_defaults_need_no_file() -> None:
    settings = load_settings(None, environ={})
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.controller.workers == 2
    assert settings.git.allow_local is False
    assert settings.database_url.startswith("sqlite://")
    assert settings.database_url.endswith(
        "data/fogbank.db?wal_autocheckpoint=20000&synchronous=NORMAL"
    )


def test_toml_then_env_then_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret-from-file\n")
    config = tmp_path / "config.toml"
    config.write_text(
        '[server]\nport = 9000\nhost = "0.0.0.0"\n'
        "[controller]\nworkers = 4\n"
        f'[github]\nwebhook_secret_file = "{secret}"\n'
    )
    settings = load_settings(config, environ={"FOGBANK_SERVER__PORT": "9100"})
    assert settings.server.port == 9100  # env beats TOML
    assert settings.server.host == "0.0.0.0"  # noqa: S104 - TOML beats default
    assert settings.controller.workers == 4
    assert settings.github.webhook_secret == "s3cret-from-file"
    assert "s3cret" not in repr(settings)


def test_config_path_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[git]\nallow_local = true\n")
    settings = load_settings(None, environ={"FOGBANK_CONFIG": str(config)})
    assert settings.git.allow_local is True


def test_env_booleans_and_paths() -> None:
    settings = load_settings(
        None,
        environ={"FOGBANK_GIT__ALLOW_LOCAL": "yes", "FOGBANK_STORAGE__DATA_DIR": "/srv/fb"},
    )
    assert settings.git.allow_local is True
    assert settings.storage.data_dir == Path("/srv/fb")


@pytest.mark.parametrize(
    ("toml", "environ", "named"),
    [
        ("[server]\nprot = 1\n", {}, "server.prot"),
        ("[nope]\nx = 1\n", {}, "nope"),
        ("", {"FOGBANK_SERVER__HOSTT": "x"}, "server.hostt"),
        ("[server]\nport = 'abc'\n", {}, "server.port"),
        ("", {"FOGBANK_CONTROLLER__WORKERS": "two"}, "controller.workers"),
        ("[server]\nevent_loop = 'trio'\n", {}, "server.event_loop"),
        ("", {"FOGBANK_DATABASE__SQLITE_SYNCHRONOUS": "off"}, "database.sqlite_synchronous"),
    ],
)
def test_bad_settings_name_the_key(
    tmp_path: Path, toml: str, environ: dict[str, str], named: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as error:
        load_settings(config, environ=environ)
    assert named in error.value.message


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, environ={})
