"""`fogbank deploy` against a real server: in a real pseudo-terminal it shows the stages and a
progress bar reaching 100 % and exits 0; piped it prints stage changes and log lines without one
escape sequence; a broken Dockerfile exits 1 quoting the build error; a deployment superseded by
a newer one exits 2 naming it. `apps --json` is exactly the API's data."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pexpect
import pytest

from tests.support.api import unique_name
from tests.support.cli import ANSI, COMMAND, client_env, fogbank, start
from tests.support.docker_objects import remove_app_objects
from tests.support.repos import GitRepo, make_web_repo
from tests.support.server import Server, prepare_server

pytestmark = pytest.mark.slow

SLOW_BUILD = 'RUN ["/bin/busybox", "sleep", "30"]\n'
BROKEN_BUILD = 'RUN ["/bin/busybox", "sh", "-c", "echo about to fail; exit 3"]\n'
STAGES = ("==> cloning", "==> building", "==> starting", "==> switching", "==> completed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # No drift checks during the module: `apps --json` and the API's answer are compared.
    sections = {"controller": {"reconcile_interval_seconds": 86_400}}
    found = prepare_server(tmp_path_factory.mktemp("cli-deploy"), sections)
    found.start()
    yield found
    found.stop()
    found.stop_quietly()


@pytest.fixture
def app(
    server: Server, tmp_path: Path, docker_client: docker.DockerClient
) -> Iterator[tuple[str, GitRepo]]:
    """A web app (its name and repository), not deployed yet; removed afterwards."""
    name = unique_name("cli")
    repo = make_web_repo(tmp_path / "repo")
    server.call("POST", "/api/apps/create", {"name": name, "gitRepository": repo.url,
                "port": 3000, "healthTimeoutSeconds": 10, "stabilizationSeconds": 1})  # fmt: skip
    yield name, repo
    remove_app_objects(docker_client, [name])


@pytest.fixture
def env(server: Server, tmp_path: Path) -> dict[str, str]:
    return client_env(tmp_path, server.base, server.token)


def interactive_sigint() -> None:
    """In the child: Ctrl-C as a shell gives it to a foreground command. A suite started in the
    background (`cmd &` without job control) ignores SIGINT, every child inherits that, and
    Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def final_screen(transcript: str) -> list[str]:
    """What a terminal shows at the end: escapes removed, each line as its last \\r left it."""
    lines = []
    for row in ANSI.sub("", transcript).replace("\r\n", "\n").split("\n"):
        lines.append(row.split("\r")[-1].rstrip())
    return lines


def test_deploy_in_a_terminal_shows_stages_and_a_bar_to_100(
    app: tuple[str, GitRepo], env: dict[str, str]
) -> None:
    name, _ = app
    child = pexpect.spawn(COMMAND[0], [*COMMAND[1:], "deploy", name], env={**env,
                          "TERM": "xterm-256color"}, dimensions=(40, 110), encoding="utf-8",
                          timeout=180)  # fmt: skip
    child.expect(pexpect.EOF)
    child.close()
    transcript = str(child.before)
    screen = final_screen(transcript)
    print("\n".join(screen))  # the captured screen, for the record
    assert child.exitstatus == 0
    assert ANSI.search(transcript), "a terminal gets colour and a live bar"
    for stage in STAGES:
        assert any(line.startswith(stage) for line in screen), stage
    bar = [line for line in screen if line.startswith(f"{name} #1 completed")]
    assert bar and "100%" in bar[-1]
    assert screen[-1] == f"{name} #1 succeeded" or f"{name} #1 succeeded" in screen


def test_piped_deploy_has_no_escape_and_shows_stages_and_log_lines(
    app: tuple[str, GitRepo], env: dict[str, str]
) -> None:
    name, _ = app
    result = fogbank("deploy", name, env=env)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x1b" not in result.stderr
    lines = result.stdout.splitlines()
    for stage in STAGES:
        assert any(line.startswith(stage) for line in lines), stage
    assert any(line.startswith("Step 1/") for line in lines)
    assert lines[-1] == f"{name} #1 succeeded"


def test_apps_json_is_the_apis_data(
    server: Server, app: tuple[str, GitRepo], env: dict[str, str]
) -> None:
    pipeline = f"{' '.join(COMMAND)} apps --json | {sys.executable} -m json.tool"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], env=env,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == server.call("GET", "/api/apps/getAll")["data"]


def test_a_broken_dockerfile_exits_1_quoting_the_build_error(
    app: tuple[str, GitRepo], env: dict[str, str]
) -> None:
    name, repo = app
    dockerfile = (repo.path / "Dockerfile").read_text()
    repo.commit("breaks the build", {"Dockerfile": dockerfile + BROKEN_BUILD})
    result = fogbank("deploy", name, env=env)
    assert result.returncode == 1, result.stderr
    assert f"fogbank: {name} #1 failed: docker build failed: " in result.stderr
    assert "returned a non-zero code: 3" in result.stderr
    assert "about to fail" in result.stderr  # among the last log lines
    assert "Traceback" not in result.stderr


def test_a_superseded_deployment_exits_2_naming_the_newer_one(
    server: Server, app: tuple[str, GitRepo], env: dict[str, str]
) -> None:
    name, repo = app
    dockerfile = (repo.path / "Dockerfile").read_text()
    repo.commit("a slow build", {"Dockerfile": dockerfile + SLOW_BUILD})
    first = start("deploy", name, env=env)
    try:
        first.wait_for(lambda line: line.startswith("==> building"))
        app_id = next(a["id"] for a in server.call("GET", "/api/apps/getAll")["data"]
                      if a["name"] == name)  # fmt: skip
        newer: dict[str, Any] = server.call("POST", "/api/deployment/add", {"appId": app_id})
        assert first.finish() == 2, first.errors
    finally:
        first.stop()
    assert first.errors[-1] == (
        f"fogbank: {name} #1 was stopped: superseded by deployment #{newer['deployment_number']}"
    )
    stopped = fogbank("stop", str(newer["id"]), env=env)
    assert stopped.returncode == 0, stopped.stderr


def test_ctrl_c_detaches_and_the_deployment_goes_on(
    server: Server, app: tuple[str, GitRepo], env: dict[str, str]
) -> None:
    name, repo = app
    dockerfile = (repo.path / "Dockerfile").read_text()
    repo.commit("a slow build", {"Dockerfile": dockerfile + SLOW_BUILD})
    child = pexpect.spawn(COMMAND[0], [*COMMAND[1:], "deploy", name], env={**env,
                          "TERM": "xterm-256color"}, dimensions=(40, 110), encoding="utf-8",
                          timeout=120, preexec_fn=interactive_sigint)  # fmt: skip
    child.expect("Step 5/")  # the slow step is running
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    detached = ANSI.sub("", str(child.before))
    assert f"detached: {name} #1 goes on on the server (`fogbank stop " in detached
    app_id = next(a["id"] for a in server.call("GET", "/api/apps/getAll")["data"]
                  if a["name"] == name)  # fmt: skip
    (running,) = server.deployments(app_id)
    assert running["status"] == "building"
    assert fogbank("stop", str(running["id"]), env=env).returncode == 0
