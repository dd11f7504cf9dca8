"""Image references as Docker reads them (`[registry/]path[:tag][@sha256:digest]`): parsed and
checked once, so nothing else splits on ':' or '/', and no user text reaches the daemon unless it
is a well-formed reference."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The grammar of distribution/reference, restricted to what a pull accepts.
_DOMAIN_PART = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]{{1,5}})?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
REFERENCE = re.compile(
    rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_PART}(?:/{_PATH_PART})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{DIGEST.pattern}))?"
)
DOCKER_HUB = "docker.io"
MAX_LENGTH = 1024


@dataclass(frozen=True)
class ImageRef:
    """A parsed reference. `repository` is what the daemon pulls (registry included when one
    is named); `tag` is "latest" when neither a tag nor a digest was given."""

    registry: str
    repository: str
    tag: str
    digest: str

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def pinned(self, digest: str) -> str:
        """This repository at exactly `digest` (what a rollback or a poll pulls)."""
        return f"{self.repository}@{digest}"


def parse(text: str) -> ImageRef:
    """Parse a reference; ValueError (saying why) when it is not one."""
    if not text or len(text) > MAX_LENGTH or text != text.strip():
        raise ValueError("an image reference such as registry.example.com/team/api:1.4")
    match = REFERENCE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"'{text[:80]}' is not an image reference such as registry.example.com/team/api:1.4"
        )
    domain, path = match.group("domain"), match.group("path")
    # As Docker reads it: a first part with '.' or ':' (or "localhost") names a registry.
    if domain is not None and not ("." in domain or ":" in domain or domain == "localhost"):
        if not re.fullmatch(_PATH_PART, domain):
            raise ValueError(f"'{text[:80]}': repository names are lowercase")
        path, domain = f"{domain}/{path}", None
    tag = match.group("tag") or ""
    digest = match.group("digest") or ""
    if not tag and not digest:
        tag = "latest"
    repository = f"{domain}/{path}" if domain else path
    return ImageRef(domain or DOCKER_HUB, repository, tag, digest)


def is_digest(value: str) -> bool:
    return DIGEST.fullmatch(value) is not None


def commit_of(digest: str) -> str:
    """What an image deployment records as its commit_hash: the digest's first 40 hex digits
    (the seed's column is a git sha's width; the whole digest is kept beside it)."""
    return digest.removeprefix("sha256:")[:40]
