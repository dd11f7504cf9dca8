"""Real git repositories in a temp dir: commits with a fixed author, and a web app repository
whose Dockerfile serves `www/` with a static busybox (no image can be pulled here)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}
HTTPD_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]
"""


@dataclass
class GitRepo:
    path: Path

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def git(self, *args: str) -> str:
        result = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env={**os.environ, **GIT_ENV},
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    def write(self, relative: str, content: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)

    def commit(self, message: str, files: dict[str, str] | None = None) -> str:
        for relative, content in (files or {}).items():
            self.write(relative, content)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


def make_web_repo(path: Path, content: str = "version one\n") -> GitRepo:
    """A repository whose Dockerfile serves www/ with busybox httpd on port 3000."""
    path.mkdir(parents=True)
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    shutil.copy(BUSYBOX, path / "busybox")
    repo.commit(
        "first version",
        {"Dockerfile": HTTPD_DOCKERFILE, "www/index.html": content, ".dockerignore": "*.md\n"},
    )
    return repo


def chatty_dockerfile(version: str) -> str:
    """Serves www/ and prints to stdout (a start line with $APP_SECRET, then `<version> tick N`
    every 0.2 s) and once to stderr: an app whose runtime logs tests follow."""
    script = (
        f"echo {version} started secret=$APP_SECRET; echo {version} to stderr >&2; "
        "/bin/busybox httpd -p 3000 -h /www; i=0; "
        f"while :; do i=$((i+1)); echo {version} tick $i; /bin/busybox sleep 0.2; done"
    )
    return (
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\n"
        f'CMD ["/bin/busybox", "sh", "-c", "{script}"]\n'
    )


def make_chatty_repo(path: Path) -> GitRepo:
    """A repository of `chatty_dockerfile("v1")`; commit `chatty_dockerfile("v2")` to redeploy."""
    path.mkdir(parents=True)
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    shutil.copy(BUSYBOX, path / "busybox")
    repo.commit("v1", {"Dockerfile": chatty_dockerfile("v1"), "www/index.html": "v1\n"})
    return repo
