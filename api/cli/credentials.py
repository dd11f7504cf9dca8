"""Where the client finds its server and token: FOGBANK_URL and FOGBANK_TOKEN (for CI), else the
credentials file that `fogbank login` writes (mode 0600, under $XDG_CONFIG_HOME or ~/.config).

The client reads its own environment here, apart from the server's settings (controller/config
reads only FOGBANK_<SECTION>__<KEY> and ignores these two): "nothing else reads os.environ" is
a rule about server settings."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from api.cli.errors import UNREACHABLE, CliError

URL_VARIABLE = "FOGBANK_URL"
TOKEN_VARIABLE = "FOGBANK_TOKEN"  # noqa: S105 - the name of a variable, not a secret
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


@dataclass(frozen=True)
class Target:
    """A server and the token to speak to it with."""

    url: str
    token: str
    token_id: int | None = None


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "fogbank" / "credentials"


def load_saved() -> Target | None:
    """What `fogbank login` saved, or None."""
    path = credentials_path()
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {path}: {exc}; log in again", UNREACHABLE) from exc
    if not isinstance(saved, dict) or not saved.get("url") or not saved.get("token"):
        raise CliError(f"{path} holds no server and token; log in again", UNREACHABLE)
    token_id = saved.get("token_id")
    return Target(
        str(saved["url"]), str(saved["token"]), token_id if isinstance(token_id, int) else None
    )


def save(target: Target) -> Path:
    """Write the credentials file, readable by its owner only (also when it existed before)."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    path.parent.chmod(DIRECTORY_MODE)  # fogbank's own directory, also when it existed
    body = json.dumps({"url": target.url, "token": target.token, "token_id": target.token_id})
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), FILE_MODE)
        handle.write(body + "\n")
    return path


def forget() -> bool:
    """Remove the credentials file; whether there was one."""
    with contextlib.suppress(FileNotFoundError):
        credentials_path().unlink()
        return True
    return False


def resolve() -> Target:
    """FOGBANK_URL and FOGBANK_TOKEN win over the file. The file's token is never sent to
    another server than the one it was made for."""
    url = os.environ.get(URL_VARIABLE, "").strip()
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    saved = load_saved()
    if saved is not None and (not url or same_server(url, saved.url)):
        url = url or saved.url
        token = token or saved.token
    if not url:
        raise CliError(
            f"no server: run `fogbank login URL`, or set {URL_VARIABLE} and {TOKEN_VARIABLE}",
            UNREACHABLE,
        )
    if not token:
        raise CliError(
            f"not logged in to {url}: run `fogbank login {url}`, or set {TOKEN_VARIABLE}",
            UNREACHABLE,
        )
    return Target(normal_url(url), token)


def normal_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = f"http://{url}"
    return url


def same_server(one: str, other: str) -> bool:
    return normal_url(one) == normal_url(other)
