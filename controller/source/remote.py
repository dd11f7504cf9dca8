"""A git remote as fogbank hands it to git: the URL without credentials, the credentials apart.

Credentials never reach a command line (where `ps` shows them to every local user): git gets
them through its environment as an HTTP header scoped to the remote's URL.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

# userinfo of any URL-looking text, e.g. https://user:token@host -> https://***@host
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
# git's scp-like syntax: [user@]host:path, where host has no slash before the colon.
_SCP_LIKE = re.compile(r"^[^/:@\s]+@[^/:\s]+:")


def redact(text: str) -> str:
    """Hide the userinfo (credentials) of every URL in `text`."""
    return _USERINFO.sub("***@", text)


@dataclass(frozen=True)
class Remote:
    """Where to fetch from (`url`, never with a password) and how to log in there.

    `username`/`secret` are sent as HTTP Basic credentials to http(s) remotes (for GitHub a
    token as `secret` with any username, e.g. `x-access-token`). ssh remotes log in with keys:
    `ssh_key` (a private key, OpenSSH format) and the hosts it trusts in `known_hosts`; their
    user name stays in the URL because ssh needs it and it is not a secret.
    """

    url: str
    username: str = ""
    secret: str = field(default="", repr=False)
    ssh_key: str = field(default="", repr=False)
    known_hosts: Path | None = None

    def __post_init__(self) -> None:
        scheme, separator, rest = self.url.partition("://")
        userinfo, at, _ = rest.partition("/")[0].rpartition("@")
        if separator and at and (scheme.lower() != "ssh" or ":" in userinfo):
            raise ValueError("Remote.url must not carry credentials; use Remote.parse")

    @classmethod
    def parse(cls, url: str) -> Remote:
        """Split a URL that may carry `user:secret@` into a Remote (credentials taken out)."""
        scheme, separator, rest = url.partition("://")
        if not separator:
            return cls(url)  # scp-like (git@host:path) or a local path: no userinfo to take out
        authority, slash, path = rest.partition("/")
        userinfo, at, host = authority.rpartition("@")
        if not at:
            return cls(url)
        user_text, _, secret_text = userinfo.partition(":")
        if scheme.lower() == "ssh":
            # ssh never reads a password from the URL; dropping it keeps it off ssh's argv
            return cls(f"{scheme}://{user_text}@{host}{slash}{path}")
        return cls(
            f"{scheme}://{host}{slash}{path}",
            username=unquote(user_text),
            secret=unquote(secret_text),
        )

    @property
    def has_credentials(self) -> bool:
        return bool(self.username or self.secret)

    @property
    def is_ssh(self) -> bool:
        """ssh:// or scp-like (user@host:path): git talks to it through ssh."""
        scheme, separator, _ = self.url.partition("://")
        if separator:
            return scheme.lower() in ("ssh", "git+ssh", "ssh+git")
        return bool(_SCP_LIKE.match(self.url))

    def git_config(self) -> list[tuple[str, str]]:
        """Config entries that log git in to this remote: preemptive Basic auth for its URL only.

        They go into git's environment (GIT_CONFIG_KEY_n/GIT_CONFIG_VALUE_n), never its argv.
        """
        if not self.has_credentials or not self.url.lower().startswith(("https://", "http://")):
            return []
        token = base64.b64encode(f"{self.username}:{self.secret}".encode()).decode("ascii")
        return [(f"http.{self.url}.extraHeader", f"Authorization: Basic {token}")]


def as_remote(remote: str | Remote) -> Remote:
    """Callers may pass a plain URL (with or without userinfo) or a Remote."""
    return remote if isinstance(remote, Remote) else Remote.parse(remote)
