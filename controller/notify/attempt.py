"""How one delivery attempt ended, and what an HTTP answer means for retrying it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

MAX_ERROR = 300


@dataclass(frozen=True)
class Attempt:
    ok: bool
    error: str = ""
    # Retrying cannot help (a 4xx, a missing token): the message fails at once.
    permanent: bool = False
    # Epoch seconds before which the receiver asked not to be called again (Retry-After,
    # GitHub's x-ratelimit-reset).
    not_before: float | None = None
    # A rate limit, not a failure: it does not use up the message's attempts, and pauses its
    # whole channel until not_before.
    rate_limited: bool = False

    @classmethod
    def delivered(cls) -> Attempt:
        return cls(True)

    @classmethod
    def failed(
        cls, error: str, *, permanent: bool = False, not_before: float | None = None
    ) -> Attempt:
        return cls(False, error[:MAX_ERROR], permanent, not_before)


def retry_after(response: httpx.Response, now: float | None = None) -> float | None:
    """Retry-After as epoch seconds (it may be seconds or an HTTP date), or None."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    now = time.time() if now is None else now
    if value.isdigit():
        return now + int(value)
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def summary(response: httpx.Response) -> str:
    """`HTTP 422: <the start of the body>` for an event log line."""
    text = " ".join(response.text.split())[:200]
    return f"HTTP {response.status_code}" + (f": {text}" if text else "")


def classify(response: httpx.Response) -> Attempt:
    """A receiver's answer: 2xx delivered; 408, 429 and 5xx worth retrying (not before its
    Retry-After); any other status (a redirect too: none is followed) fails for good."""
    status = response.status_code
    if 200 <= status < 300:
        return Attempt.delivered()
    if status in (408, 429) or status >= 500:
        return Attempt.failed(summary(response), not_before=retry_after(response))
    return Attempt.failed(summary(response), permanent=True)
