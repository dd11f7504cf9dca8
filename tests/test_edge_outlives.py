"""Apps keep serving while fogbank stops, crashes or is upgraded: under steady load on an app's
publicPort and on its domain, `fogbank serve` is stopped with SIGTERM, killed with SIGKILL and
upgraded (stopped, a new version installed into its venv, started), each time for 5 s, and not
one request fails; a deploy requested right after the last restart still swaps without a
failure. fogbank runs from a venv of its own here, so the upgrade is a real `pip install`."""

from __future__ import annotations

import asyncio
import shutil
import site
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.support.load import SteadyLoad
from tests.support.ports import free_port
from tests.support.repos import GitRepo
from tests.support.server import Server, cli, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
DOWN_SECONDS = 5.0
CLIENTS = 8  # per target: 16 in all, half of them on keep-alive connections


def source_copy(target: Path, version: str) -> Path:
    """This source tree's tracked files, with `version` as the package version."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        relative = name.decode()
        if (ROOT / relative).is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, target / relative)
    pyproject = target / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('version = "0.1.0"', f'version = "{version}"', 1))
    return target


def make_venv(directory: Path) -> Path:
    """A venv that sees this interpreter's dependencies (a .pth line) but not its fogbank."""
    subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True)
    (directory / "lib" / "python3.11" / "site-packages" / "fogbank_test_deps.pth").write_text(
        site.getsitepackages()[0] + "\n"
    )
    return directory


def pip_install(venv: Path, source: Path) -> None:
    result = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--no-deps", str(source)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def installed_version(venv: Path) -> str:
    return subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print(m.version('fogbank'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=venv,
    ).stdout.strip()


def edge_pids(data_dir: Path) -> dict[str, int]:
    directory = data_dir / "caddy"
    return {
        name: int((directory / f"{name}.pid").read_text())
        for name in ("edge", "front", "switch")
        if (directory / f"{name}.pid").exists()
    }


async def under_load(
    urls: list[tuple[str, str | None]], bodies: frozenset[str], outage: Callable[[], None]
) -> list[SteadyLoad]:
    loads = [
        SteadyLoad(url, clients=CLIENTS, host_header=host, expect=bodies) for url, host in urls
    ]
    for load in loads:
        await load.__aenter__()
    try:
        await asyncio.sleep(1.0)
        await asyncio.to_thread(outage)
        await asyncio.sleep(1.0)
    finally:
        for load in loads:
            await load.__aexit__(None, None, None)
    return loads


@pytest.mark.timeout(900)
async def test_apps_keep_serving_while_fogbank_stops_crashes_and_upgrades(
    tmp_path: Path, web_repo: GitRepo, app_name: str, docker_client: docker.DockerClient
) -> None:
    venv = make_venv(tmp_path / "venv")
    pip_install(venv, source_copy(tmp_path / "src-1", "0.1.0"))
    port, http_port, public_port = free_port(), free_port(), free_port()
    data_dir = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\nport = {port}\n[storage]\ndata_dir = "{data_dir}"\n'
        f"[git]\nallow_local = true\n[edge]\nhttp_port = {http_port}\n"
    )
    fogbank = venv / "bin" / "fogbank"
    admin = ["--username", "admin", "--role", "admin", "--password-stdin"]
    cli("user", "create", *admin, config=config, stdin="a long password\n")
    server = Server(config, port, tmp_path / "server.log", executable=fogbank)
    server.token = cli("token", "create", "--username", "admin", "--name", "t", config=config)
    try:
        server.start()
        app = server.call(
            "POST",
            "/api/apps/create",
            {
                "name": app_name,
                "gitRepository": web_repo.url,
                "port": 3000,
                "publicPort": public_port,
                "healthTimeoutSeconds": 30,
                "stabilizationSeconds": 2,
            },
        )["data"]
        server.call(
            "POST",
            "/api/apps/domains/create",
            {"appId": app["id"], "hostname": "hammer.example.com"},
        )
        first = server.call("POST", "/api/deployment/add", {"appId": app["id"]})

        def finished(deployment_id: int) -> Callable[[], dict[str, Any] | None]:
            def check() -> dict[str, Any] | None:
                found = {d["id"]: d for d in server.deployments(app["id"])}[deployment_id]
                return found if found["status"] in ("success", "failed") else None

            return check

        assert wait_until(finished(first["id"]), 120, "first deploy")["status"] == "success"
        urls: list[tuple[str, str | None]] = [
            (f"http://127.0.0.1:{public_port}/", None),
            (f"http://127.0.0.1:{http_port}/", "hammer.example.com"),
        ]
        edge_before = edge_pids(data_dir)
        assert set(edge_before) == {"edge", "front", "switch"}

        def sigterm() -> None:
            assert server.terminate() == 0
            time.sleep(DOWN_SECONDS)
            server.start()

        def sigkill() -> None:
            server.kill()
            time.sleep(DOWN_SECONDS)
            server.start()

        def upgrade() -> None:
            assert server.terminate() == 0
            started = time.monotonic()
            pip_install(venv, source_copy(tmp_path / "src-2", "0.1.1"))
            time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - started)))
            server.start()

        version_one = frozenset({"version one\n"})
        results: dict[str, list[SteadyLoad]] = {}
        for name, outage in (("SIGTERM", sigterm), ("SIGKILL", sigkill), ("upgrade", upgrade)):
            results[name] = await under_load(urls, version_one, outage)
        assert installed_version(venv) == "0.1.1"
        log = server.log_path.read_text()
        assert "edge: keeps running and serving" in log and "fogbank edge stop" in log

        # Right after a restart: a deploy still swaps without a failed request.
        web_repo.commit("v2", {"www/index.html": "version two\n"})

        def restart_then_deploy() -> None:
            assert server.terminate() == 0
            server.start()
            deployed = server.call("POST", "/api/deployment/add", {"appId": app["id"]})
            done = wait_until(finished(deployed["id"]), 120, "deploy after restart")
            assert done["status"] == "success", done

        both = frozenset({"version one\n", "version two\n"})
        results["deploy after restart"] = await under_load(urls, both, restart_then_deploy)
        for name, loads in results.items():
            for load, (url, host) in zip(loads, urls, strict=True):
                print(f"{name:>20} {host or url}: {load.counts()}")
        for loads in results.values():
            for load in loads:
                assert load.failures == [], load.failures[:5]
                assert len(load.samples) > 100
        assert {s.body for s in results["deploy after restart"][0].samples} == both
        assert edge_pids(data_dir) == edge_before  # the edge itself never restarted
        assert server.terminate() == 0
    finally:
        server.stop_quietly()
