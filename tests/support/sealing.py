"""A secrets key for tests that open a database without a data directory."""

from __future__ import annotations

import secrets

from controller.store.sealing import KEY_BYTES, Sealer


def fresh_sealer() -> Sealer:
    """A fresh random key (each database its own, as a first start would make)."""
    return Sealer(secrets.token_bytes(KEY_BYTES))
