"""The service template catalogue: the packaged entries, a config-named file that adds or
overrides them, and the entries it refuses (by file, entry and key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cli import main
from controller.apps import database
from controller.apps.templates import Catalogue
from controller.errors import ConfigError, ValidationFailed

PACKAGED = {"postgres", "mysql", "mariadb", "redis", "mongodb"}


def test_the_packaged_catalogue_has_every_database() -> None:
    catalogue = Catalogue.load()
    assert set(catalogue.names()) >= PACKAGED
    for template in catalogue.all():
        assert template.image and template.tag and 1 <= template.port <= 65535
        assert template.data_dir.startswith("/")
        # The generated password reaches the app through one env var holding it as is.
        assert template.env[template.password_env] == "{password}"
        assert "{password}" in template.url and "{host}" in template.url
    postgres = catalogue.get("postgres")
    assert postgres is not None
    assert (postgres.reference, postgres.port, postgres.data_dir) == (
        "postgres:16",
        5432,
        "/var/lib/postgresql/data",
    )
    redis = catalogue.get("redis")
    assert redis is not None and not any("{password}" in part for part in redis.command)


def test_a_catalogue_file_overrides_keys_and_adds_entries(tmp_path: Path) -> None:
    extra = tmp_path / "catalogue.toml"
    extra.write_text(
        '[postgres]\nimage = "mirror.example.com/library/postgres"\ntag = "15"\n'
        "health_command = []\n"
        '[valkey]\nimage = "valkey/valkey"\ntag = "8"\nport = 6379\ndata_dir = "/data"\n'
        'user = "default"\ndatabase = "0"\nurl = "redis://{user}:{password}@{host}:{port}/0"\n'
        '[valkey.env]\nVALKEY_PASSWORD = "{password}"\n'
    )
    catalogue = Catalogue.load(str(extra))
    postgres = catalogue.get("postgres")
    assert postgres is not None
    assert postgres.reference == "mirror.example.com/library/postgres:15"
    assert postgres.health_command == () and postgres.port == 5432  # the rest is packaged
    valkey = catalogue.get("valkey")
    assert valkey is not None and valkey.password_env == "VALKEY_PASSWORD"


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ('[postgres]\nport = "5432"', "'port'"),
        ("[postgres]\nflavour = 1", "unknown key 'flavour'"),
        ('[postgres]\ndata_dir = "var/lib"', "'data_dir'"),
        ('[postgres]\ntag = "not a tag"', "image and tag"),
        ('[postgres]\nurl = "postgresql://{who}@{host}"', "{who}"),
        ('[postgres]\ncommand = ["run", "--password={password}"]', "{password}"),
        ('[postgres.env]\nPOSTGRES_PASSWORD = "fixed"', "'{password}'"),
        ('[mine]\nimage = "x"', "'tag' is required"),
        ("[postgres", "not valid TOML"),
    ],
)
def test_bad_entries_are_refused_by_name(tmp_path: Path, entry: str, named: str) -> None:
    extra = tmp_path / "catalogue.toml"
    extra.write_text(entry + "\n")
    with pytest.raises(ConfigError) as refused:
        Catalogue.load(str(extra))
    assert named in refused.value.message and str(extra) in refused.value.message


def test_a_missing_catalogue_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"templates\.catalogue_file"):
        Catalogue.load(str(tmp_path / "absent.toml"))


def test_each_app_gets_its_own_password_as_a_secret() -> None:
    catalogue = Catalogue.load()
    template = database.template_of(catalogue, "postgres")
    fields, envs = database.from_template(template, {"name": "db", "public_port": 15432})
    again = database.from_template(template, {"name": "db2"})[1]
    secret = {env.key: env for env in envs}["POSTGRES_PASSWORD"]
    assert secret.is_secret and len(secret.value) >= 24
    assert secret.value != {env.key: env for env in again}["POSTGRES_PASSWORD"].value
    assert not {env.key for env in envs if env.is_secret} - {"POSTGRES_PASSWORD"}
    assert fields["image"] == "postgres:16" and fields["public_port"] == 15432
    assert fields["volumes"] == [{"name": "data", "mount_path": "/var/lib/postgresql/data"}]
    assert fields["health_command"] == ["pg_isready", "-q", "-U", "postgres", "-d", "app"]
    with pytest.raises(ValidationFailed, match=r"^templateName 'oracle' is not in the catalogue"):
        database.template_of(catalogue, "oracle")


def test_serve_refuses_a_bad_catalogue_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = tmp_path / "catalogue.toml"
    extra.write_text('[postgres]\nport = "x"\n')
    config = tmp_path / "config.toml"
    config.write_text(
        f'[templates]\ncatalogue_file = "{extra}"\n[storage]\ndata_dir = "{tmp_path / "data"}"\n'
    )
    assert main(["serve", "--config", str(config)]) == 2
    assert f"template catalogue {extra}: template 'postgres': 'port'" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()  # nothing was started
