"""A real image registry for the image and template tests: Debian's `docker-registry` on a free
127.0.0.1 port (Docker pulls from a loopback registry over plain HTTP without configuration),
optionally with htpasswd users, and images built FROM scratch with busybox pushed to it.

Nothing can be pulled from Docker Hub here; these images stand in for postgres and for a web
app's releases. Each carries the test run's label, so the run's cleanup finds what is left."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx

from tests.support.ports import free_port
from tests.support.repos import BUSYBOX

START_TIMEOUT_SECONDS = 15
HTTPD = '["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]'
# A stand-in for postgres: refuses to start without its password, counts its boots in its data
# directory and listens on 5432 (busybox nc: a persistent server that echoes).
STANDIN_DB = (
    'test -n "$POSTGRES_PASSWORD" || { echo "no POSTGRES_PASSWORD"; exit 1; }; '
    'mkdir -p "$DATA_DIR" && echo "$VERSION" >> "$DATA_DIR/boots" && '
    "exec nc -ll -p 5432 -e cat"
)
# A broken release: prints its password (as careless images do) and exits.
LEAKY_DB = 'echo "starting with password $POSTGRES_PASSWORD"; exit 3'


@dataclass
class Registry:
    root: Path
    port: int
    process: subprocess.Popen[bytes]
    users: dict[str, str]

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def log(self) -> str:
        return (self.root / "registry.log").read_text(errors="replace")[-3000:]


def start_registry(root: Path, users: dict[str, str] | None = None) -> Registry:
    """`docker-registry serve` on a free loopback port, storing under `root`; with `users`,
    every request needs one of them (htpasswd, bcrypt)."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise RuntimeError("docker-registry is missing: install Debian's docker-registry")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = ""
    if users:
        htpasswd = root / "htpasswd"
        lines = []
        for user, password in users.items():
            # -i: the password comes on stdin, not the command line
            made = subprocess.run(
                ["htpasswd", "-niB", user], input=password.encode(), capture_output=True, check=True
            )
            lines.append(made.stdout.decode().strip())
        htpasswd.write_text("\n".join(lines) + "\n")
        auth = f"auth:\n  htpasswd:\n    realm: fogbank-test\n    path: {htpasswd}\n"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: fogbank-test-{port}\n{auth}"
    )
    with (root / "registry.log").open("ab") as log:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    registry = Registry(root, port, process, dict(users or {}))
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {registry.log()}")
        try:
            if httpx.get(f"http://{registry.host}/v2/", timeout=1).status_code in (200, 401):
                return registry
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            registry.stop()
            raise RuntimeError(f"docker-registry did not answer: {registry.log()}")
        time.sleep(0.1)


def build_context(root: Path, run_id: str, steps: str, files: dict[str, str] | None = None) -> Path:
    """A FROM-scratch context with busybox, labelled with the run, ending in `steps`."""
    context = root / f"ctx-{time.monotonic_ns()}"
    context.mkdir(parents=True)
    shutil.copy2(BUSYBOX, context / "busybox")
    for name, content in (files or {}).items():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(content)
    (context / "Dockerfile").write_text(
        f"FROM scratch\nLABEL fogbank.test.run={run_id}\nCOPY busybox /bin/busybox\n{steps}\n"
    )
    return context


def push(
    client: docker.DockerClient, registry: Registry, context: Path, repository: str, tag: str
) -> str:
    """Build `context`, push it as <registry>/<repository>:<tag>, drop the local tag (so a pull
    really fetches); the digest the registry gave it."""
    reference = f"{registry.host}/{repository}"
    client.images.build(path=str(context), tag=f"{reference}:{tag}", rm=True, forcerm=True)
    auth: Any = None
    if registry.users:
        user, password = next(iter(registry.users.items()))
        auth = {"username": user, "password": password}
    digest = ""
    for item in client.api.push(reference, tag=tag, stream=True, decode=True, auth_config=auth):
        if "error" in item:
            raise RuntimeError(f"push of {reference}:{tag} failed: {item['error']}")
        aux = item.get("aux") or {}
        digest = str(aux.get("Digest") or digest)
    client.images.remove(f"{reference}:{tag}")
    assert digest.startswith("sha256:"), f"no digest for {reference}:{tag}"
    return digest


def push_web(
    client: docker.DockerClient,
    registry: Registry,
    root: Path,
    run_id: str,
    tag: str,
    body: str = "",
) -> str:
    """A web release `tag` (busybox httpd on 3000 answering `body`, "release <tag>" by
    default) as <run>/web:<tag>; its digest."""
    page = body or f"release {tag}\n"
    context = build_context(root, run_id, f"COPY www /www\nCMD {HTTPD}", {"www/index.html": page})
    return push(client, registry, context, f"{run_id}/web", tag)


def push_standin_db(
    client: docker.DockerClient,
    registry: Registry,
    root: Path,
    run_id: str,
    tag: str,
    data_dir: str,
    *,
    leaky: bool = False,
) -> str:
    """The stand-in database (or, `leaky`, a broken release of it) as <run>/postgres:<tag>."""
    script = LEAKY_DB if leaky else STANDIN_DB
    steps = (
        f"ENV VERSION={tag} DATA_DIR={data_dir}\n"
        f'CMD ["/bin/busybox", "sh", "-c", {json.dumps(script)}]'
    )
    return push(client, registry, build_context(root, run_id, steps), f"{run_id}/postgres", tag)
