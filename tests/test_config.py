"""Settings: defaults -> TOML -> FOGBANK_<SECTION>__<KEY> env -> <key>_file; unknown keys named,
other FOGBANK_* variables ignored, every number range-checked, the tree frozen; and the same
rules seen from a real `fogbank serve` process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from controller.config import Settings, load_settings
from controller.errors import ConfigError
from tests.support.server import Server, child_env, configured_port, write_config


def toml(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(text)
    return config


def test_defaults_need_no_file() -> None:
    settings = load_settings(None, environ={})
    assert settings == Settings()
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.controller.workers == 2
    assert settings.git.allow_local is False
    assert settings.database_url.startswith("sqlite://")
    assert settings.database_url.endswith(
        "data/fogbank.db?wal_autocheckpoint=20000&synchronous=NORMAL"
    )


def test_each_layer_overrides_the_one_before(tmp_path: Path) -> None:
    """default < TOML < environment < <key>_file, key by key (the others stay as they were)."""
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    config = toml(
        tmp_path,
        '[server]\nport = 9000\nhost = "0.0.0.0"\n'
        '[github]\nwebhook_secret = "from-toml"\n'
        f'[database]\nurl_file = "{secret}"\nurl = "from-toml"\n',
    )
    environ = {
        "FOGBANK_SERVER__PORT": "9100",
        "FOGBANK_GITHUB__WEBHOOK_SECRET": "from-env",
        "FOGBANK_DATABASE__URL": "from-env",
    }
    settings = load_settings(config, environ=environ)
    assert settings.server.port == 9100  # env beats TOML
    assert settings.server.host == "0.0.0.0"  # noqa: S104 - TOML beats the default
    assert settings.server.max_body_bytes == Settings().server.max_body_bytes  # default kept
    assert settings.github.webhook_secret == "from-env"  # env beats TOML
    assert settings.database.url == "from-file"  # <key>_file beats env and TOML


def test_secret_files_from_toml_and_from_the_environment(tmp_path: Path) -> None:
    from_toml, from_env = tmp_path / "a", tmp_path / "b"
    from_toml.write_text("s3cret-from-toml\n")
    from_env.write_text("s3cret-from-env\n")
    config = toml(tmp_path, f'[github]\nwebhook_secret_file = "{from_toml}"\n')
    assert load_settings(config, environ={}).github.webhook_secret == "s3cret-from-toml"
    settings = load_settings(config, environ={"FOGBANK_GITHUB__WEBHOOK_SECRET_FILE": str(from_env)})
    assert settings.github.webhook_secret == "s3cret-from-env"
    assert "s3cret" not in repr(settings)


def test_an_unreadable_secret_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(ConfigError) as error:
        load_settings(environ={"FOGBANK_GITHUB__WEBHOOK_SECRET_FILE": str(missing)})
    assert "github.webhook_secret_file" in error.value.message
    assert str(missing) in error.value.message


def test_config_path_from_environment(tmp_path: Path) -> None:
    config = toml(tmp_path, "[git]\nallow_local = true\n")
    settings = load_settings(None, environ={"FOGBANK_CONFIG": str(config)})
    assert settings.git.allow_local is True


def test_env_booleans_paths_and_lists() -> None:
    settings = load_settings(
        None,
        environ={
            "FOGBANK_GIT__ALLOW_LOCAL": "yes",
            "FOGBANK_STORAGE__DATA_DIR": "/srv/fb",
            "FOGBANK_SERVER__ALLOWED_ORIGINS": "https://a.example, https://b.example",
        },
    )
    assert settings.git.allow_local is True
    assert settings.storage.data_dir == Path("/srv/fb")
    assert settings.server.allowed_origins == ("https://a.example", "https://b.example")


def test_other_fogbank_variables_are_not_settings() -> None:
    """Variables of scripts (setup-host's FOGBANK_DOCKERD_LOG), of the test suite, and any
    FOGBANK_* without the SECTION__KEY shape or without a settings section are ignored."""
    environ = {
        "FOGBANK_DOCKERD_LOG": "/tmp/x",
        "FOGBANK_DOCKER_WAIT_SECONDS": "60",
        "FOGBANK_TEST_REQUIRE_DOCKER": "1",
        "FOGBANK_SERVER": "x",
        "FOGBANK_NOSUCHSECTION__PORT": "1",
        "FOGBANK___PORT": "1",
        "FOGBANK_SERVER__": "1",
    }
    assert load_settings(None, environ=environ) == Settings()


def test_settings_built_in_code_ignore_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FOGBANK_SERVER__PORT", "9999")
    assert Settings().server.port == 8080
    assert load_settings(None).server.port == 9999  # only load_settings reads it


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("[server]\nprot = 1\n", {}, "unknown setting 'server.prot'"),
        ("[nope]\nx = 1\n", {}, "unknown settings section 'nope'"),
        ("server = 1\n", {}, "settings section 'server' must be a table"),
        ("", {"FOGBANK_SERVER__HOSTT": "x"}, "unknown setting 'server.hostt'"),
        ("", {"FOGBANK_SERVER__PORT__X": "1"}, "unknown setting 'server.port__x'"),
        ("", {"FOGBANK_SERVER__PORT_FILE": "/etc/hostname"}, "server.port_file"),
        ("[server]\nport = 'abc'\n", {}, "server.port must be an integer between 1 and 65535"),
        ("", {"FOGBANK_CONTROLLER__WORKERS": "two"}, "controller.workers must be an integer"),
        ("[controller]\nworkers = 2.5\n", {}, "controller.workers must be an integer"),
        ("[server]\nevent_loop = 'trio'\n", {}, "server.event_loop must be 'uvloop' or"),
        ("", {"FOGBANK_DATABASE__SQLITE_SYNCHRONOUS": "off"}, "database.sqlite_synchronous"),
        ("", {"FOGBANK_GIT__ALLOW_LOCAL": "maybe"}, "git.allow_local must be a valid boolean"),
        ("", {"FOGBANK_EDGE__ADMIN_URL": "http://0.0.0.0:2019"}, "edge.admin_url must be"),
    ],
)
def test_bad_settings_name_the_key(
    tmp_path: Path, text: str, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(toml(tmp_path, text), environ=environ)
    assert message in error.value.message


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "CONTROLLER__WORKERS",
            "0",
            "controller.workers must be an integer between 1 and 64 (got 0)",
        ),
        ("CONTROLLER__WORKERS", "65", "between 1 and 64 (got 65)"),
        ("SERVER__PORT", "0", "server.port must be an integer between 1 and 65535 (got 0)"),
        ("EDGE__HTTP_PORT", "70000", "edge.http_port must be an integer between 1 and 65535"),
        (
            "GIT__TIMEOUT_SECONDS",
            "0",
            "git.timeout_seconds must be a number more than 0 and at most 3600 (got 0)",
        ),
        ("DEPLOY__HEALTH_INTERVAL_SECONDS", "-1", "more than 0 and at most 60 (got -1)"),
        ("BUILD__CPU_SHARES", "1", "build.cpu_shares must be an integer between 2 and 262144"),
    ],
)
def test_numbers_out_of_range_name_the_key_and_the_range(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(environ={f"FOGBANK_{variable}": value})
    assert message in error.value.message


def test_every_number_has_a_range() -> None:
    for name, section in Settings().model_dump().items():
        for key, default in section.items():
            if isinstance(default, int | float) and not isinstance(default, bool):
                with pytest.raises(ConfigError, match=rf"{name}\.{key} must be .* (between|than)"):
                    load_settings(environ={f"FOGBANK_{name}__{key}": "-1e12"})


def test_a_wrong_secret_is_never_echoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(toml(tmp_path, "[github]\nwebhook_secret = 123456789\n"), environ={})
    assert "github.webhook_secret" in error.value.message
    assert "123456789" not in error.value.message


def test_settings_are_frozen() -> None:
    settings = load_settings(environ={})
    with pytest.raises(ValidationError, match="frozen"):
        settings.controller.workers = 5
    with pytest.raises(ValidationError, match="frozen"):
        settings.controller = settings.controller
    assert settings.controller.workers == 2


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", environ={})
    with pytest.raises(ConfigError, match="is not a file"):
        load_settings(tmp_path, environ={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(toml(tmp_path, "[server\n"), environ={})


@pytest.mark.slow
def test_serve_starts_beside_a_script_variable(tmp_path: Path) -> None:
    """scripts/setup-host documents FOGBANK_DOCKERD_LOG; a `serve` that sees it still starts."""
    config = write_config(tmp_path)
    server = Server(
        config,
        configured_port(config),
        tmp_path / "server.log",
        env={"FOGBANK_DOCKERD_LOG": "/tmp/x"},
    )
    try:
        server.start()
        assert httpx.get(f"{server.base}/api/health", timeout=5).status_code == 200
        assert server.terminate() == 0
    finally:
        server.stop_quietly()


@pytest.mark.slow
def test_serve_refuses_zero_workers_naming_the_key_and_range(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--config", str(config)],
        env=child_env({"FOGBANK_CONTROLLER__WORKERS": "0"}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "controller.workers" in result.stderr
    assert "between 1 and 64" in result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was created
