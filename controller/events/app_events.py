"""Each app's event log: what the reconciler noticed and did (drift found, repaired, failed),
one timestamped line per event in <logs>/apps/<app>.log."""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path

from controller.store.datadir import PRIVATE_DIR, open_private
from controller.store.timefmt import iso_now

log = logging.getLogger(__name__)


class AppEvents:
    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def path(self, app_name: str) -> Path:
        return self._directory / f"{app_name}.log"

    def record(self, app_name: str, message: str) -> None:
        self._directory.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        with open(open_private(self.path(app_name)), "a", encoding="utf-8") as handle:
            handle.write(f"{iso_now()} {message}\n")
        log.info("app %s: %s", app_name, message)

    def recent(self, app_name: str, limit: int = 100) -> list[str]:
        try:
            with self.path(app_name).open(encoding="utf-8", errors="replace") as handle:
                return [line.rstrip("\n") for line in deque(handle, maxlen=limit)]
        except FileNotFoundError:
            return []

    def delete(self, app_name: str) -> None:
        self.path(app_name).unlink(missing_ok=True)
