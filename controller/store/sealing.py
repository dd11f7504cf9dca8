"""Secrets at rest: columns whose values are sealed with AES-256-GCM under the key of
`security.key_file`, so the database file alone (a backup, a copied disk) reveals none of them.

A sealed value is `fbk1:` + base64url(nonce || ciphertext || tag); the column's name is bound as
associated data, so a value copied into another column does not open. The key is process-wide:
Tortoise fields are class attributes with no per-connection state. open_database installs it
before any migration runs; until then, reading or writing a sealed column fails closed.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tortoise import fields

from controller.errors import ConfigError

PREFIX = "fbk1:"
KEY_BYTES = 32
_NONCE_BYTES = 12


class SealError(ConfigError):
    """A sealed value cannot be opened (another key, or a damaged value), or no key is set."""


class Sealer:
    """Seals and opens text with one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise SealError(f"the secrets key must be {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, plain: str, purpose: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plain.encode(), purpose.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str, purpose: str) -> str:
        if not sealed.startswith(PREFIX):
            raise SealError(f"{purpose} holds a value that is not sealed")
        try:
            raw = base64.urlsafe_b64decode(sealed[len(PREFIX) :])
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], purpose.encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise SealError(
                f"{purpose} cannot be opened with the key of security.key_file: the key file was "
                "replaced or the value damaged"
            ) from None
        return plain.decode()


_current: Sealer | None = None


def install(sealer: Sealer | None) -> None:
    """Make `sealer` the process's key (None: no key; sealed columns then fail closed)."""
    global _current  # noqa: PLW0603 - one key per process, read by column conversions
    _current = sealer


def current() -> Sealer:
    if _current is None:
        raise SealError("no secrets key is loaded: open the database with its key file first")
    return _current


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


class SealedTextField(fields.TextField):
    """Text sealed in the database, plain in Python. The empty string stays empty (it holds no
    secret, and columns added to existing rows default to it). Not filterable by value."""

    def __init__(self, purpose: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.purpose = purpose

    def to_db_value(self, value: Any, instance: Any) -> Any:
        if value is None or value == "":
            return value
        return current().seal(str(value), self.purpose)

    def to_python_value(self, value: Any) -> Any:
        if value is None or value == "":
            return value
        return current().open(str(value), self.purpose)

    def describe(self, serializable: bool) -> dict[str, Any]:
        described: dict[str, Any] = super().describe(serializable)
        described["purpose"] = self.purpose
        return described
