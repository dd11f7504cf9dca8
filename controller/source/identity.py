"""Repository identity: the many spellings of one repository (https, ssh, scp-like
`git@host:owner/name`, git://, `owner/name`) mapped to one key, so an app's git URL, a webhook
payload's URLs and GitHub's API all name the same repository."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# user@host:path or host:path without a scheme (git's scp-like syntax)
_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?P<path>\S+)$")


def normalise_repository(url: str) -> str | None:
    """One key per repository: `host/owner/name` (no user, port, scheme or `.git`), lowercase.

    `owner/name` (GitHub's full_name) and local paths have no host and stay as a bare path.
    Not cached: it also reads strings from requests (webhooks/payload.py caches apps' own).
    """
    split = split_repository(url)
    if split is None:
        return None
    host, path = split
    return f"{host}/{path}" if host else path


def split_repository(url: str) -> tuple[str, str] | None:
    """(host, path) of a repository's URL, lowercase, the path without `.git` or end slashes;
    GitHub's API form (`api.github.com/repos/o/n`, `host/api/v3/repos/o/n`) as the repository."""
    text = url.strip().lower()
    if not text:
        return None
    host = ""
    if "://" in text:
        parts = urlsplit(text)
        host, path = parts.hostname or "", parts.path
    elif scp := _SCP_LIKE.fullmatch(text):
        host, path = scp.group("host"), scp.group("path")
    else:
        path = text
    path = path.strip("/").removesuffix(".git").rstrip("/")
    if host.startswith("api.") and path.startswith("repos/"):
        host, path = host.removeprefix("api."), path.removeprefix("repos/")
    elif host and path.startswith("api/v3/repos/"):
        path = path.removeprefix("api/v3/repos/")
    return (host, path) if path else None


def github_repository(url: str, web_host: str) -> str | None:
    """`owner/name` of a repository URL on the GitHub at `web_host` (github.com, or a GitHub
    Enterprise host), or None when the URL points elsewhere."""
    key = normalise_repository(url)
    if key is None:
        return None
    host, _, path = key.partition("/")
    parts = path.split("/")
    if host != web_host.lower() or len(parts) != 2 or not all(parts):
        return None
    return path
