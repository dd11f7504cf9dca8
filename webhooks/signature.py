"""GitHub's X-Hub-Signature-256: HMAC-SHA256 of the raw request body, compared in constant time.

The secret is known before the body is read (the URL names whose secret it is), so the HMAC is
computed as the body arrives and nothing of it is parsed before it matched. Fail closed: a
missing or malformed header, or an empty secret, never verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

PREFIX = "sha256="
_WELL_FORMED = re.compile(r"^sha256=[0-9a-f]{64}$")


def sign(secret: str, body: bytes) -> str:
    """The header value GitHub sends for `body` signed with `secret`: `sha256=<hex>`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return PREFIX + digest


def well_formed(header: str | None) -> bool:
    """Whether `header` has the shape of a signature at all (`sha256=` and 64 lowercase hex)."""
    return header is not None and _WELL_FORMED.fullmatch(header) is not None


class Signature:
    """The HMAC of a body fed chunk by chunk, compared with the header at the end."""

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)

    def update(self, chunk: bytes) -> None:
        self._mac.update(chunk)

    def matches(self, header: str | None) -> bool:
        """True when `header` is the signature of everything fed so far (constant time)."""
        if not self._secret or header is None or not well_formed(header):
            return False  # an empty secret would let anyone sign
        expected = (PREFIX + self._mac.hexdigest()).encode("ascii")
        return hmac.compare_digest(expected, header.encode("ascii"))


def verify(body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    """True when `header` is the signature of `body` under one of the non-empty `secrets`.

    Every candidate is compared (no early return), so timing says nothing about which matched.
    """
    matched = False
    for secret in secrets:
        signature = Signature(secret)
        signature.update(body)
        matched |= signature.matches(header)
    return matched
