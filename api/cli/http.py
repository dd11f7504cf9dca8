"""The client's side of the API: one httpx client with the token, the envelope unwrapped, and
every failure turned into a one-line CliError with its exit code (3 unreachable or not
authenticated, 4 forbidden, 1 any other refusal)."""

from __future__ import annotations

import errno
from typing import Any
from urllib.parse import urlencode

import httpx

from api.cli.credentials import Target
from api.cli.errors import FAILED, FORBIDDEN, UNREACHABLE, CliError

TIMEOUT_SECONDS = 30.0


def unreachable(url: str, exc: BaseException) -> CliError:
    """`cannot reach URL: connection refused`: the reason of the innermost OS error."""
    return CliError(f"cannot reach {url}: {reason(exc)}", UNREACHABLE)


def reason(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            return (seen.strerror or errno.errorcode.get(seen.errno, str(seen))).lower()
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timed out"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def refusal(url: str, status: int, body: Any, route: str = "") -> CliError:
    """The server's own message and the exit code its status means."""
    message = body.get("message") if isinstance(body, dict) else None
    text = str(message) if message else f"the server answered HTTP {status}"
    code = body.get("error") if isinstance(body, dict) else None
    if code in ("NOT_FOUND", "METHOD_NOT_ALLOWED") and route:
        # The route itself is missing (a missing app or deployment has its own code).
        return CliError(f"{url} does not serve {route}: is it an older fogbank?", FAILED)
    if status == 401:
        wrong_password = isinstance(body, dict) and body.get("error") == "INVALID_CREDENTIALS"
        hint = "" if wrong_password else f" (run `fogbank login {url}`)"
        return CliError(f"{url}: {text}{hint}", UNREACHABLE)
    if status == 403:
        return CliError(text, FORBIDDEN)
    return CliError(text, FAILED)


class Api:
    """Calls to one fogbank server with one token."""

    def __init__(self, target: Target, *, timeout_seconds: float = TIMEOUT_SECONDS) -> None:
        self.target = target
        self.url = target.url
        self._client = httpx.Client(
            base_url=target.url,
            headers={"Authorization": f"Bearer {target.token}"} if target.token else {},
            timeout=timeout_seconds,
            follow_redirects=False,
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self._client.close()

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """The answer's `data` (or the whole answer of the seed's bare routes)."""
        response = self.send(method, path, body, params, accept="application/json")
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_error:
            raise refusal(self.url, response.status_code, payload, f"{method} {path}")
        if payload is None:
            raise CliError(f"{self.url}{path}: the answer is not JSON", FAILED)
        if isinstance(payload, dict) and {"success", "data"} <= set(payload):
            return payload["data"]
        return payload

    def text(self, path: str, params: dict[str, Any] | None = None) -> str:
        response = self.send("GET", path, None, params, accept="text/plain")
        if response.is_error:
            try:
                payload = response.json()
            except ValueError:
                payload = None
            raise refusal(self.url, response.status_code, payload, f"GET {path}")
        return response.text

    def send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        params: dict[str, Any] | None,
        *,
        accept: str,
    ) -> httpx.Response:
        try:
            return self._client.request(
                method, path, json=body, params=params, headers={"Accept": accept}
            )
        except httpx.HTTPError as exc:
            raise unreachable(self.url, exc) from exc

    def socket_url(self, path: str, params: dict[str, Any]) -> str:
        """ws:// (or wss://) URL of a socket of this server."""
        base = "ws" + self.url.removeprefix("http")
        return f"{base}{path}?{urlencode(params)}"

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.target.token}"}

    # Finding things by what users type -------------------------------------------------

    def app(self, name_or_id: str) -> dict[str, Any]:
        """An app by its name, or by its id (a name wins: names may be digits)."""
        apps: list[dict[str, Any]] = self.call("GET", "/api/apps/getAll")
        for found in apps:
            if found["name"] == name_or_id:
                return found
        if name_or_id.isdigit():
            for found in apps:
                if found["id"] == int(name_or_id):
                    return found
        raise CliError(f"no app named {name_or_id!r} on {self.url}", FAILED)

    def deployments(self, app_id: int, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""
        found: list[dict[str, Any]] = self.call(
            "POST", "/api/deployment/getByAppId", {"appId": app_id, "limit": limit}
        )
        return found

    def deployment(self, deployment_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", f"/api/deployment/logs/{deployment_id}")[
            "deployment"
        ]
        return found
