"""Each app's event log: what the reconciler noticed and did (drift found, repaired, failed),
one timestamped line per event in <logs>/apps/<app>.log. Bounded: past MAX_BYTES the file
becomes <app>.log.1 (replacing the one before) and a new one starts."""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path

from controller.store.datadir import PRIVATE_DIR, open_private
from controller.store.timefmt import iso_now

log = logging.getLogger(__name__)

MAX_BYTES = 1024 * 1024


class AppEvents:
    def __init__(self, directory: Path, max_bytes: int = MAX_BYTES) -> None:
        self._directory = directory
        self._max_bytes = max_bytes

    def path(self, app_name: str) -> Path:
        return self._directory / f"{app_name}.log"

    def record(self, app_name: str, message: str) -> None:
        self._directory.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        path = self.path(app_name)
        try:
            if path.stat().st_size >= self._max_bytes:
                path.replace(self._older(app_name))
        except FileNotFoundError:
            pass
        with open(open_private(path), "a", encoding="utf-8") as handle:
            handle.write(f"{iso_now()} {message}\n")
        log.info("app %s: %s", app_name, message)

    def recent(self, app_name: str, limit: int = 100) -> list[str]:
        """The last `limit` events, oldest first (reaching into the rotated file if needed)."""
        lines: deque[str] = deque(maxlen=limit)
        for path in (self._older(app_name), self.path(app_name)):
            try:
                with path.open(encoding="utf-8", errors="replace") as handle:
                    lines.extend(line.rstrip("\n") for line in handle)
            except FileNotFoundError:
                continue
        return list(lines)

    def delete(self, app_name: str) -> None:
        self.path(app_name).unlink(missing_ok=True)
        self._older(app_name).unlink(missing_ok=True)

    def _older(self, app_name: str) -> Path:
        return self._directory / f"{app_name}.log.1"
