"""The append-only log file of each deployment, with secrets masked.

A log line is written to the file and published in one synchronous step, so a watcher that
subscribes first and then reads the file sees every line exactly once (deduplicated by seq).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path

from controller.events.bus import Event, EventBus
from controller.store.datadir import PRIVATE_DIR, open_private

MASK = "********"
CHUNK_BYTES = 64 * 1024  # of log text read (and sent to a watcher) at a time
MIN_MASKED_LINE = 4


def mask_values(secrets: Sequence[str]) -> tuple[str, ...]:
    """What to mask for these secret values, longest first: each value, trimmed too, and each
    line of a multi-line one (a key file printed by the app reaches the log one line at a time).
    Lines shorter than MIN_MASKED_LINE are left: masking every "a" would hide the log, not the
    secret."""
    values: set[str] = set()
    for secret in secrets:
        values.update({secret, secret.strip()})
        values.update(
            line.strip() for line in secret.splitlines() if len(line.strip()) >= MIN_MASKED_LINE
        )
    values.discard("")
    return tuple(sorted(values, key=len, reverse=True))


def masked(text: str, values: Sequence[str]) -> str:
    """`text` with each of `values` (from mask_values) replaced by MASK."""
    for value in values:
        text = text.replace(value, MASK)
    return text


class DeploymentLogs:
    """One append-only text file per deployment (keyed by id); line numbers are the seq."""

    def __init__(self, directory: Path, bus: EventBus, max_bytes: int | None = None) -> None:
        self._directory = directory
        self._bus = bus
        self._max_bytes = max_bytes
        self._next_seq: dict[int, int] = {}
        self._size: dict[int, int] = {}
        self._truncated: set[int] = set()
        self._secrets: dict[int, tuple[str, ...]] = {}

    def path(self, deployment_id: int) -> Path:
        return self._directory / f"{deployment_id}.log"

    def open(self, deployment_id: int, secrets: Sequence[str] = ()) -> None:
        """Start (or resume) writing; every secret value is masked in every later line."""
        self._directory.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        self._secrets[deployment_id] = mask_values(secrets)
        if deployment_id not in self._next_seq:
            self._next_seq[deployment_id] = len(self.read(deployment_id)) + 1
            path = self.path(deployment_id)
            self._size[deployment_id] = path.stat().st_size if path.exists() else 0

    async def adopt(self, deployment_id: int) -> None:
        """Before continuing a log another instance may have written (taking over its work):
        nothing to do here, where logs are not shared (see shared_log.SharedDeploymentLogs)."""

    def close(self, deployment_id: int) -> None:
        self._next_seq.pop(deployment_id, None)
        self._size.pop(deployment_id, None)
        self._truncated.discard(deployment_id)
        self._secrets.pop(deployment_id, None)

    def append(self, deployment_id: int, text: str, *, essential: bool = False) -> None:
        """Write one or more lines (split on newlines) and publish each as a log event.

        Past max_bytes only `essential` lines (stage changes, errors) are still written; the
        first line dropped leaves a marker, so the file never grows without bound."""
        if deployment_id not in self._next_seq:
            self.open(deployment_id)
        masked = self.mask(deployment_id, text)
        lines = [line.rstrip("\r") for line in masked.split("\n")]
        size = self._size.get(deployment_id, 0)
        if self._max_bytes is not None and not essential and size >= self._max_bytes:
            if deployment_id in self._truncated:
                return
            self._truncated.add(deployment_id)
            lines = [f"[log truncated: build.max_log_bytes ({self._max_bytes}) reached]"]
        self._size[deployment_id] = size + sum(len(line.encode()) + 1 for line in lines)
        with open(open_private(self.path(deployment_id)), "a", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line + "\n")
        for line in lines:
            seq = self._next_seq[deployment_id]
            self._next_seq[deployment_id] = seq + 1
            self._bus.publish(deployment_id, Event("log", {"line": line, "seq": seq}))

    def mask(self, deployment_id: int, text: str) -> str:
        return masked(text, self._secrets.get(deployment_id, ()))

    def read(self, deployment_id: int, after: int = 0) -> list[tuple[int, str]]:
        """Every (seq, line) written so far with seq > after."""
        return [item for chunk in self.chunks(deployment_id, after) for item in chunk]

    def chunks(
        self, deployment_id: int, after: int = 0, max_bytes: int = CHUNK_BYTES
    ) -> Generator[list[tuple[int, str]], None, None]:
        """The same lines, about `max_bytes` of them at a time, read from the file as they are
        asked for: a long log is never held whole. Close the iterator when done early."""
        try:
            handle = self.path(deployment_id).open(encoding="utf-8", errors="replace", newline="\n")
        except FileNotFoundError:
            return
        with handle:
            chunk: list[tuple[int, str]] = []
            size = 0
            for seq, line in enumerate(handle, start=1):
                if not line.endswith("\n"):
                    break  # the line being written now
                if seq <= after:
                    continue
                chunk.append((seq, line[:-1]))
                size += len(line)
                if size >= max_bytes:
                    yield chunk
                    chunk, size = [], 0
            if chunk:
                yield chunk

    def text(self, deployment_id: int) -> str:
        try:
            return self.path(deployment_id).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stored_ids(self) -> list[int]:
        """The deployments this instance holds a log file of."""
        if not self._directory.is_dir():
            return []
        names = (path.name.removesuffix(".log") for path in self._directory.glob("*.log"))
        return sorted(int(name) for name in names if name.isdigit())

    def delete(self, deployment_id: int) -> None:
        self.close(deployment_id)
        self.path(deployment_id).unlink(missing_ok=True)
