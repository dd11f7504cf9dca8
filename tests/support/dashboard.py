"""A real `fogbank serve` for the dashboard's browser tests: an admin and a viewer, apps made
through the API with the server's token, and waiting for deployments over HTTP."""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from controller.store.models import TERMINAL
from tests.support.api import unique_name
from tests.support.ports import free_port
from tests.support.repos import BUSYBOX, GitRepo
from tests.support.server import Server, cli

ADMIN = ("admin", "a long password")
VIEWER = ("viewer", "a viewer's password")
# A build with steps that take a moment and print, so the page is seen mid-build.
SLOW_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "for i in 1 2 3; do echo building part $i; /bin/busybox sleep 1; done"]
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]
"""
BROKEN_DOCKERFILE = "FROM scratch\nCOPY file-that-does-not-exist /x\n"


def labelled(dockerfile: str, run_id: str) -> str:
    """`dockerfile` (FROM on its first line) with the run's label next: every layer of its build
    carries it (so the run's leftovers can be removed), and a nonce, so no layer comes from the
    cache of another repository's build."""
    first, rest = dockerfile.split("\n", 1)
    label = f"LABEL fogbank.test.run={run_id} fogbank.test.nonce={uuid.uuid4().hex}"
    return f"{first}\n{label}\n{rest}"


def make_slow_repo(path: Path, content: str, run_id: str) -> GitRepo:
    """A repository whose image serves `content` (www/index.html) after a few seconds' build."""
    path.mkdir(parents=True)
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    shutil.copy(BUSYBOX, path / "busybox")
    dockerfile = labelled(SLOW_DOCKERFILE, run_id)
    repo.commit("first version", {"Dockerfile": dockerfile, "www/index.html": content})
    return repo


@dataclass
class Dashboard:
    server: Server
    root: Path
    names: list[str] = field(default_factory=list)
    # Labels every build layer of the module's repositories (tests/support/docker_objects.py).
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def base(self) -> str:
        return self.server.base

    def add_viewer(self) -> None:
        username, password = VIEWER
        cli("user", "create", "--username", username, "--role", "viewer", "--password-stdin",
            config=self.server.config, stdin=password + "\n")  # fmt: skip

    def repo(self, content: str) -> GitRepo:
        return make_slow_repo(self.root / unique_name("repo"), content, self.run_id)

    def dockerfile(self, text: str) -> str:
        """`text` labelled for this run and kept out of other builds' cache."""
        return labelled(text, self.run_id)

    def create_app(self, repo: GitRepo, **extra: Any) -> dict[str, Any]:
        """A web app on a free publicPort (`extra`: more camelCase fields)."""
        name = unique_name("dash")
        self.names.append(name)
        body = {
            "name": name,
            "gitRepository": repo.url,
            "port": 3000,
            "publicPort": free_port(),
            "healthTimeoutSeconds": 10,
            "stabilizationSeconds": 1,  # keeps the suite fast
            **extra,
        }
        created: dict[str, Any] = self.server.call("POST", "/api/apps/create", body)["data"]
        return created

    def deployment(self, deployment_id: int) -> dict[str, Any]:
        response = httpx.get(
            f"{self.base}/api/deployment/logs/{deployment_id}",
            headers={"Authorization": f"Bearer {self.server.token}", "Accept": "application/json"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()["data"]["deployment"]
        return found

    def wait_terminal(self, deployment_id: int, timeout_seconds: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            found = self.deployment(deployment_id)
            if found["status"] in TERMINAL:
                return found
            time.sleep(0.2)
        raise AssertionError(f"deployment {deployment_id} did not finish in {timeout_seconds} s")

    def deploy(self, app_id: int) -> dict[str, Any]:
        """Deploy the branch head through the API and wait until it succeeded."""
        made = self.server.call("POST", "/api/deployment/add", {"appId": app_id})
        done = self.wait_terminal(made["id"])
        assert done["status"] == "success", done["error_message"]
        return done


def served(port: int, expected: str, timeout_seconds: float = 30) -> str:
    """What the app answers on its publicPort once it answers `expected`."""
    deadline = time.monotonic() + timeout_seconds
    seen = ""
    while time.monotonic() < deadline:
        try:
            seen = httpx.get(f"http://127.0.0.1:{port}/", timeout=2).text
        except httpx.HTTPError as exc:
            seen = repr(exc)
        if expected in seen:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"port {port} answers {seen!r}, not {expected!r}")
