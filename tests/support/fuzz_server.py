"""The fuzz test's server (tests/test_api_fuzz.py): a real `fogbank serve` seeded so the ids a
fuzzer tries first name live rows, its git limited to file:// and its outgoing HTTP sent to a
closed port on loopback, so nothing leaves the host; and the repair of the fuzzer's own admin
when a fuzzed call takes it away."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import docker
import httpx
import pytest

from tests.support.api import unique_name
from tests.support.docker_objects import remove_app_objects
from tests.support.repos import make_web_repo
from tests.support.server import Server, cli, configured_port, wait_until, write_config

# Operations that can take the fuzzer's own credential away (another admin created by the fuzzer
# may disable, demote or delete user 1; any token may be revoked): after a success, the test
# gives the fuzzer its admin and a token back with the command line, as an operator would.
CREDENTIAL_CHANGES = {
    ("POST", "/api/users/disable"),
    ("PUT", "/api/users/setRole"),
    ("DELETE", "/api/users/delete"),
    ("DELETE", "/api/tokens/revoke"),
}
# The seeded admin's password is the one the document gives as the login example, so the
# examples phase can log in.
ADMIN_PASSWORD = "correct horse battery"
FAILING_DOCKERFILE = "FROM scratch\nCOPY file-that-does-not-exist /x\n"


@contextmanager
def seeded_server(root: Path, docker_client: docker.DockerClient) -> Iterator[Server]:
    """A real server with seeded rows; git limited to file:// so nothing leaves loopback."""
    git_config = root / "gitconfig"
    git_config.write_text("[protocol]\n\tallow = never\n")
    # The seeded database app's image is on a loopback port nothing listens on: a pull fails
    # at once, and nothing leaves the machine.
    catalogue = root / "catalogue.toml"
    catalogue.write_text('[postgres]\nimage = "127.0.0.1:1/fuzz/postgres"\n')
    config = write_config(
        root,
        {
            "git": {"timeout_seconds": 10},
            "controller": {"workers": 1},
            "deploy": {"stop_timeout_seconds": 1},
            # The fuzzer's failed logins must not lock the examples' valid one out (429).
            "auth": {
                "login_failures_per_minute": 10_000,
                "login_failures_per_address_per_minute": 100_000,
                "login_failures_overall_per_minute": 1_000_000,
            },
            "metrics": {"allow_from": "127.0.0.1"},
            "templates": {"catalogue_file": str(catalogue)},
        },
    )
    cli(
        *("user", "create", "--username", "admin", "--role", "admin", "--password-stdin"),
        config=config,
        stdin=ADMIN_PASSWORD + "\n",
    )
    server = Server(config, configured_port(config), root / "server.log")
    server.token = cli("token", "create", "--username", "admin", "--name", "fuzz", config=config)
    cli(  # user 2, whom the user operations may disable, demote or delete
        *("user", "create", "--username", "someone", "--role", "viewer", "--password-stdin"),
        config=config,
        stdin=ADMIN_PASSWORD + "\n",
    )
    name = unique_name("fuzz")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GIT_CONFIG_GLOBAL", str(git_config))
        env.setenv("GIT_CONFIG_NOSYSTEM", "1")
        # Notifications to the hosts the fuzzer names go to a closed port on loopback instead.
        server.env = {name: "http://127.0.0.1:9" for name in ("HTTP_PROXY", "HTTPS_PROXY")}
        server.env["NO_PROXY"] = "127.0.0.1,localhost"
        server.start()
    try:
        seed(server, root, name)
        yield server
        assert server.terminate() == 0
    finally:
        server.stop_quietly()
        remove_app_objects(docker_client, [name, f"{name}-db"])


def seed(server: Server, root: Path, name: str) -> None:
    repo = make_web_repo(root / "repo")
    app = server.call(
        "POST",
        "/api/apps/create",
        {
            "name": name,
            "gitRepository": repo.url,
            "port": 3000,
            "healthTimeoutSeconds": 10,
            "stabilizationSeconds": 1,
        },
    )["data"]
    assert app["id"] == 1, "the ids the fuzzer tries first must name the seeded rows"
    server.call("POST", "/api/apps/envs/create", {"appId": 1, "key": "PLAIN", "value": "1"})
    server.call(
        "POST",
        "/api/apps/envs/create",
        {"appId": 1, "key": "TOKEN", "value": "fuzz-secret", "isSecret": True},
    )
    server.call("POST", "/api/apps/domains/create", {"appId": 1, "hostname": "fuzz.test"})
    # Target 1; delivering to the discard port on loopback fails without traffic leaving the host.
    target = {"appId": 1, "name": "fuzz", "kind": "webhook", "url": "http://127.0.0.1:9/hook"}
    server.call("POST", "/api/notifications/targets/create", target)
    for number in (1, 2):  # two successes: #2 active, #1 a rollback target
        server.call("POST", "/api/deployment/add", {"appId": 1})
        wait_until(
            partial(settled, server, number),
            120,
            f"deployment #{number} to succeed (log: {server.log_path})",
        )
    repo.commit("fails at its first step", {"Dockerfile": FAILING_DOCKERFILE})
    # A database app from a template, whose connection info can be asked for: id 2, which
    # schemathesis' coverage phase always sends (the minimum id, plus one).
    database = {"name": f"{name}-db", "appType": "database", "templateName": "postgres"}
    assert server.call("POST", "/api/apps/create", database)["data"]["id"] == 2


def settled(server: Server, number: int) -> bool | None:
    newest = server.deployments(1)[0]
    if newest["deployment_number"] != number or newest["status"] in ("pending", "building"):
        return None
    if newest["status"] == "deploying":
        return None
    assert newest["status"] == "success", newest
    return True


def keep_the_fuzzer_admin(server: Server) -> None:
    """Repairs the fuzzer's admin (enabled, admin, existing) and token when a call ended them."""
    check = httpx.get(
        f"{server.base}/api/users/getAll",
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=10,
    )
    if check.status_code == 200:
        return
    listed = cli("user", "list", config=server.config).splitlines()  # id, name, role, state
    if "admin" not in {line.split("\t")[1] for line in listed if "\t" in line}:
        cli(
            *("user", "create", "--username", "admin", "--role", "admin", "--password-stdin"),
            config=server.config,
            stdin=ADMIN_PASSWORD + "\n",
        )
    cli("user", "enable", "admin", config=server.config)
    cli("user", "set-role", "admin", "admin", config=server.config)
    server.token = cli(
        "token", "create", "--username", "admin", "--name", "fuzz", config=server.config
    )
