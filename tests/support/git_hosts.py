"""Git test helpers: repositories made in tmp dirs, and loopback servers that play a git host.

GitHub cannot be reached from the tests, so a local HTTPS server plays it: one that serves a
real repository through `git http-backend` behind Basic auth, one that answers a redirect, one
that records the request and never answers. Git trusts them through GIT_SSL_CAINFO.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

AUTHOR = "Ada Lovelace <ada@example.com>"
HANG_LIMIT_SECONDS = 60.0


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with a fixed identity, independent of the user's config."""
    result = subprocess.run(
        [
            "git",
            "-c",
            "user.name=Ada Lovelace",
            "-c",
            "user.email=ada@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    """Write `files`, commit them and return the new sha."""
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def init_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "-b", "main")
    return path


@dataclass(frozen=True)
class Tls:
    """A self-signed certificate for 127.0.0.1; `cert` doubles as the CA file git trusts."""

    cert: Path
    key: Path


def make_tls(directory: Path) -> Tls:
    directory.mkdir(parents=True, exist_ok=True)
    tls = Tls(directory / "cert.pem", directory / "key.pem")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(tls.key), "-out", str(tls.cert)),
        ],
        check=True,
        capture_output=True,
    )
    return tls


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    authorization: str | None


@dataclass
class GitHost:
    """What the loopback host does with each request, and what it saw.

    Exactly one of: `redirect_to` (answer 301 to that base URL), `hang` (record, then hold the
    connection without a byte until released), `backend_root` (serve repositories under it
    with git http-backend, asking for `authorization` when it is set).
    """

    redirect_to: str | None = None
    hang: bool = False
    backend_root: Path | None = None
    authorization: str | None = None
    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    requested: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, *, scheme: str = "https", userinfo: str = "") -> str:
        return f"{scheme}://{userinfo}127.0.0.1:{self.port}/{path}"

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        self.seen.append(Seen(request.command, request.path, request.headers["Authorization"]))
        self.requested.set()
        if self.redirect_to is not None:
            _answer(request, 301, b"", [("Location", self.redirect_to + request.path)])
        elif self.hang:
            self.release.wait(HANG_LIMIT_SECONDS)
            request.close_connection = True
        elif self.authorization and request.headers["Authorization"] != self.authorization:
            _answer(request, 401, b"", [("WWW-Authenticate", 'Basic realm="git"')])
        else:
            assert self.backend_root is not None
            _http_backend(request, self.backend_root)


@contextmanager
def serving(host: GitHost, tls: Tls | None) -> Iterator[GitHost]:
    """Serve `host` on a loopback port (HTTPS with `tls`, plain HTTP without) until the end."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host.handle(self)

        def do_POST(self) -> None:
            host.handle(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert, tls.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    host.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        host.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def _answer(
    request: BaseHTTPRequestHandler, status: int, body: bytes, headers: list[tuple[str, str]]
) -> None:
    request.send_response(status)
    for name, value in headers:
        request.send_header(name, value)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def _http_backend(request: BaseHTTPRequestHandler, root: Path) -> None:
    """One CGI call of `git http-backend`, the smart HTTP server git itself ships."""
    length = int(request.headers["Content-Length"] or 0)
    body = request.rfile.read(length)
    path, _, query = request.path.partition("?")
    env = {
        "PATH": os.environ["PATH"],
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REQUEST_METHOD": request.command,
        "CONTENT_TYPE": request.headers["Content-Type"] or "",
        "CONTENT_LENGTH": str(length),
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_CONTENT_ENCODING": request.headers["Content-Encoding"] or "",
        "GIT_PROTOCOL": request.headers["Git-Protocol"] or "",
    }
    output = subprocess.run(
        ["git", "http-backend"], input=body, env=env, capture_output=True, check=True
    ).stdout
    head, _, payload = output.partition(b"\r\n\r\n")
    status, headers = 200, []
    for line in head.decode().split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name.lower() != "content-length":
            headers.append((name, value.strip()))
    _answer(request, status, payload, headers)
