"""The restart policies an app may ask Docker for, written once: the API's schema checks and
documents them, the engine translates them."""

from __future__ import annotations

import re

# "on-failure" may carry a retry count: "on-failure:5".
NAMES = ("no", "always", "unless-stopped", "on-failure")
RETRYING = "on-failure"
PATTERN = re.compile(
    "^(?:"
    + "|".join(name for name in NAMES if name != RETRYING)
    + f"|{RETRYING}(?::[0-9]{{1,4}})?)$"
)


def parse(policy: str) -> tuple[str, int]:
    """("on-failure", 5) for "on-failure:5", (name, 0) for the others; ValueError otherwise."""
    if not PATTERN.fullmatch(policy):
        raise ValueError(f"unknown restart policy {policy!r}")
    name, _, retries = policy.partition(":")
    return name, int(retries or 0)
