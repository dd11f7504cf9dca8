"""Following logs with `fogbank` against a real server: `app-logs -f` prints what the container
writes, follows the app into the next deployment's container (the old one's lines stop) and
masks a secret the app prints; `logs N -f` survives a server restart in the middle of a build
(no line lost or doubled, seq contiguous); a watcher of app logs that stops reading is dropped
with 1013 while the server's memory stays bounded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.support.api import unique_name
from tests.support.cli import client_env, fogbank, start
from tests.support.docker_objects import remove_app_objects
from tests.support.raw_socket import StalledWatcher
from tests.support.repos import GitRepo, chatty_dockerfile, make_chatty_repo, make_web_repo
from tests.support.server import Server, prepare_server

pytestmark = pytest.mark.slow

SECRET = "the-value-nobody-may-read"
# A build that prints a numbered line every 0.3 s for 9 s.
SLOW_BUILD_LINES = (
    'RUN ["/bin/busybox", "sh", "-c", "i=0; while [ $i -lt 30 ]; do i=$((i+1)); '
    'echo build line $i; /bin/busybox sleep 0.3; done"]\n'
)
# Prints as fast as it can (20 lines, then a millisecond's pause).
FLOOD = (
    'CMD ["/bin/busybox", "sh", "-c", "/bin/busybox httpd -p 3000 -h /www; i=0; while :; do '
    "i=$((i+1)); for j in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do "
    "echo flood line $i.$j padded to about a hundred bytes with some more words in it; done; "
    '/bin/busybox usleep 1000; done"]\n'
)
STALL_SECONDS = 12.0


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.fixture
def server(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Server]:
    # One worker; a short drain so a SIGTERM interrupts a running build.
    sections = {"controller": {"workers": 1, "shutdown_timeout_seconds": 1.0}}
    (tmp_path / "server").mkdir()
    found = prepare_server(tmp_path / "server", sections)
    found.start()
    yield found
    found.stop()
    found.stop_quietly()


@pytest.fixture
def app_names(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    remove_app_objects(docker_client, names)


def create_app(server: Server, names: list[str], repo: GitRepo) -> tuple[str, int]:
    name = unique_name("logs")
    names.append(name)
    created = server.call("POST", "/api/apps/create", {"name": name, "gitRepository": repo.url,
                          "port": 3000, "healthTimeoutSeconds": 10, "stabilizationSeconds": 1})  # fmt: skip
    return name, int(created["data"]["id"])


def test_app_logs_follow_into_the_next_container_with_the_secret_masked(
    server: Server, app_names: list[str], tmp_path: Path
) -> None:
    repo = make_chatty_repo(tmp_path / "chatty")
    name, _ = create_app(server, app_names, repo)
    env = client_env(tmp_path, server.base, server.token)
    secret = fogbank("env", name, "set", "APP_SECRET", "--secret", env=env, stdin=SECRET)
    assert secret.returncode == 0, secret.stderr
    assert fogbank("deploy", name, env=env).returncode == 0
    follow = start("app-logs", name, "-f", "--tail", "0", env=env)
    try:
        follow.wait_for(lambda line: line.startswith("v1 tick"))
        repo.commit("v2", {"Dockerfile": chatty_dockerfile("v2")})
        redeploy = fogbank("deploy", name, env=env)
        assert redeploy.returncode == 0, redeploy.stderr
        follow.wait_for(lambda line: line == "v2 started secret=********")
        first_v2 = next(i for i, line in enumerate(follow.lines) if line.startswith("v2"))
        ticks = len([x for x in follow.lines if x.startswith("v2 tick")])
        follow.wait_for(lambda line: line == f"v2 tick {ticks + 5}")
    finally:
        follow.stop()
    assert [x for x in follow.lines[first_v2:] if x.startswith("v1")] == []
    assert any("deployment #2 serves the app now" in note for note in follow.errors)
    assert SECRET not in "\n".join(follow.lines + follow.errors)
    # How long after the container wrote it each tick was printed (the figure; bench/ has it too).
    stamped = fogbank("app-logs", name, "--json", "--tail", "40", env=env)
    written = {x["line"]: x["timestamp"] for x in json.loads(stamped.stdout)["lines"]}
    delays = [
        arrival - iso_seconds(written[line])
        for line, arrival in zip(follow.lines, follow.arrivals, strict=True)
        if line in written
    ]
    print(f"\napp-logs -f: {len(delays)} lines printed {max(delays):.3f} s at most after the "
          f"container wrote them (median {sorted(delays)[len(delays) // 2]:.3f} s)")  # fmt: skip


def iso_seconds(stamp: str) -> float:
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return moment.timestamp() + float(f"0.{fraction or 0}")


def test_logs_follow_survives_a_server_crash_and_restart_mid_build(
    server: Server, app_names: list[str], tmp_path: Path
) -> None:
    repo = make_web_repo(tmp_path / "repo")
    repo.commit("slow build", {"Dockerfile": (repo.path / "Dockerfile").read_text()
                               + SLOW_BUILD_LINES})  # fmt: skip
    _, app_id = create_app(server, app_names, repo)
    deployment: dict[str, Any] = server.call("POST", "/api/deployment/add", {"appId": app_id})
    env = client_env(tmp_path, server.base, server.token)
    plain = start("logs", str(deployment["id"]), "-f", env=env)
    frames = start("logs", str(deployment["id"]), "-f", "--json", env=env)
    try:
        plain.wait_for(lambda line: line == "build line 5")
        # A crash: the sockets drop without a word. (A SIGTERM lets every watcher have the
        # final status before it closes: interrupted builds are failed first.)
        server.kill()
        server.start()
        plain_code, frames_code = plain.finish(), frames.finish()
    finally:
        plain.stop()
        frames.stop()
    log = server.call_text(f"/api/deployment/logs/{deployment['id']}")
    assert plain.lines == log.splitlines()
    assert "build line 5" in plain.lines and "interrupted: controller restarted" in log
    seqs = [f["data"]["seq"] for f in map(json.loads, frames.lines) if f["type"] == "log"]
    assert seqs == list(range(1, len(log.splitlines()) + 1))
    assert plain_code == frames_code == 1  # the build was interrupted: failed, and re-queued
    assert any(note.startswith("connection lost") for note in plain.errors)
    assert "reconnected" in plain.errors
    for queued in server.deployments(app_id):
        if queued["status"] in ("pending", "building", "deploying"):
            assert fogbank("stop", str(queued["id"]), env=env).returncode == 0


def test_app_logs_follow_goes_on_across_a_graceful_restart(
    server: Server, app_names: list[str], tmp_path: Path
) -> None:
    """The server closes app-log sockets 1001 when it stops; the client comes back with
    ?since=<last line's time>: the container's numbered ticks go on without a gap or a repeat."""
    name, _ = create_app(server, app_names, make_chatty_repo(tmp_path / "chatty"))
    env = client_env(tmp_path, server.base, server.token)
    assert fogbank("deploy", name, env=env).returncode == 0
    follow = start("app-logs", name, "-f", "--tail", "3", env=env)
    try:
        follow.wait_for(lambda line: line.startswith("v1 tick"))
        assert server.terminate() == 0
        server.start()
        follow.wait_for(lambda line: line.startswith("v1 tick"))
        last = int(follow.lines[-1].split()[-1])
        follow.wait_for(lambda line: line == f"v1 tick {last + 10}")
    finally:
        follow.stop()
    ticks = [int(line.split()[-1]) for line in follow.lines if line.startswith("v1 tick")]
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks)))
    assert any(note.startswith("connection lost") for note in follow.errors)
    assert "reconnected" in follow.errors


def test_a_watcher_that_stops_reading_is_dropped_1013_with_bounded_memory(
    server: Server, app_names: list[str], tmp_path: Path
) -> None:
    repo = make_web_repo(tmp_path / "repo")
    dockerfile = (repo.path / "Dockerfile").read_text().rsplit("CMD", 1)[0]
    repo.commit("floods its log", {"Dockerfile": dockerfile + FLOOD})
    name, app_id = create_app(server, app_names, repo)
    env = client_env(tmp_path, server.base, server.token)
    deployed = fogbank("deploy", name, env=env)
    assert deployed.returncode == 0, deployed.stderr
    before = rss_mib(server.pid)
    watcher = StalledWatcher(server.port, f"/ws/apps/logs?appId={app_id}&tail=0",
                             {"Authorization": f"Bearer {server.token}"})  # fmt: skip
    samples = []
    deadline = time.monotonic() + STALL_SECONDS
    while time.monotonic() < deadline:  # the stall: sample the server while nothing is read
        samples.append(rss_mib(server.pid))
        time.sleep(0.1)
    frames, code = watcher.read_until_closed(timeout_seconds=30)
    after = rss_mib(server.pid)
    print(f"\nstalled watcher: dropped with {code} after {frames} frames; server RSS before "
          f"{before:.0f} MiB, peak while stalled {max(samples):.0f} MiB, after {after:.0f} MiB")  # fmt: skip
    assert code == 1013
    assert max(samples) - before < 64, "a stalled watcher's backlog is bounded"
    still = fogbank("app-logs", name, "--tail", "1", env=env)
    assert still.returncode == 0 and still.stdout.startswith("flood line")
