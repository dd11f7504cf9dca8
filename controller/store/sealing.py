"""Secrets at rest: columns whose values are sealed with AES-256-GCM under the key of
`security.key_file`, so the database file alone (a backup, a copied disk) reveals none of them.

A sealed value is stored as bytes (version || nonce || ciphertext || tag), so it can never be
mistaken for text a user gave: Tortoise passes both the values it reads and the values a model is
built with through the same conversion, and only what comes from the database is bytes. The
column's name is bound as associated data, so a value copied into another column does not open.
The key is process-wide (Tortoise fields are class attributes, with no per-connection state);
open_database installs it before any migration runs, and without it sealed columns fail closed.
"""

from __future__ import annotations

import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tortoise import fields

from controller.errors import ConfigError

VERSION = b"\x01"
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

    def seal(self, plain: str, purpose: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, plain.encode(), purpose.encode())

    def open(self, sealed: bytes, purpose: str) -> str:
        body = sealed[len(VERSION) :]
        try:
            if not sealed.startswith(VERSION):
                raise ValueError("unknown version")
            plain = self._aead.decrypt(body[:_NONCE_BYTES], body[_NONCE_BYTES:], purpose.encode())
        except (InvalidTag, ValueError):
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


class SealedTextField(fields.TextField):
    """Text in Python, sealed bytes in the database. The empty string stays empty (it holds no
    secret, and columns added to existing rows default to it). Not filterable by value."""

    class _db_postgres:
        SQL_TYPE = "BYTEA"

    def __init__(self, purpose: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.purpose = purpose

    def to_db_value(self, value: Any, instance: Any) -> Any:
        if value is None:
            return value
        if value == "":
            # A row's value is bytes (PostgreSQL's BYTEA takes no str); a column's DEFAULT, which
            # the migrations render from the model class, stays the SQL text ''.
            return "" if isinstance(instance, type) else b""
        return current().seal(str(value), self.purpose)

    def to_python_value(self, value: Any) -> Any:
        if isinstance(value, bytes | memoryview):
            return current().open(bytes(value), self.purpose) if value else ""
        return value  # text: a value given in Python (or the empty default), never sealed

    def describe(self, serializable: bool) -> dict[str, Any]:
        described: dict[str, Any] = super().describe(serializable)
        described["purpose"] = self.purpose
        return described
