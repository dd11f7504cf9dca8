"""GitHub's X-Hub-Signature-256: HMAC-SHA256 of the raw request body, compared in constant time.

Fail closed: a missing or malformed header, or no configured secret at all, never verifies.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value GitHub sends for `body` signed with `secret`: `sha256=<hex>`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return PREFIX + digest


def verify(body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    """True when `header` is the signature of `body` under one of the non-empty `secrets`."""
    if not header or not header.startswith(PREFIX):
        return False
    offered = header.encode("ascii", errors="replace")
    matched = False
    for secret in secrets:
        if not secret:
            continue  # an empty secret would let anyone sign
        # Every candidate is compared (no early return), so timing says nothing about which
        # secret, if any, matched.
        matched |= hmac.compare_digest(sign(secret, body).encode("ascii"), offered)
    return matched
