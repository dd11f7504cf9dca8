"""A deployment as the person watching it sees it: on a terminal, the stage and a progress bar
driven by the socket's status frames with the build log scrolling above; piped, one line per
stage change and the log lines, nothing else. Then the outcome and its exit code."""

from __future__ import annotations

from collections import deque
from types import TracebackType
from typing import Any

from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from api.cli.errors import FAILED, OK, STOPPED
from api.cli.follow import Frame
from api.cli.output import Output

LAST_LINES = 10
EXIT_CODES = {"success": OK, "failed": FAILED, "stopped": STOPPED, "rolled_back": STOPPED}
STAGE_NAMES = {
    "": "queued",
    "cloning_repo": "cloning",
    "building_image": "building",
    "starting_new": "starting",
    "stopping_old": "switching",
    "completed": "completed",
}


class DeploymentView:
    """Feed it the socket's frames (`show`); `outcome` tells how it ended."""

    def __init__(
        self, out: Output, label: str, *, quiet: bool = False, stages_apart: bool = False
    ) -> None:
        """`quiet`: print nothing (--json prints instead); `stages_apart`: stage changes go to
        standard error, so standard output is exactly the log (`fogbank logs N -f`)."""
        self.out = out
        self.label = label
        self.quiet = quiet
        self.stages_apart = stages_apart
        self.last_lines: deque[str] = deque(maxlen=LAST_LINES)
        self.status: dict[str, Any] = {}
        self.error = ""
        self._shown: tuple[str, str] | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> DeploymentView:
        if not self.out.plain and not self.quiet:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=40),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=self.out.console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(f"{self.label} queued", total=100)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def show(self, frame: Frame) -> None:
        data: dict[str, Any] = frame.get("data") or {}
        if frame.get("type") == "log":
            line = str(data.get("line", ""))
            self.last_lines.append(line)
            if not self.quiet:
                self._print(Text(line))
        elif frame.get("type") == "error":
            self.error = str(data.get("message", ""))
        elif frame.get("type") == "status":
            self.status = data
            self._stage(data)

    def _stage(self, data: dict[str, Any]) -> None:
        stage = STAGE_NAMES.get(str(data.get("stage", "")), str(data.get("stage")))
        status = str(data.get("status", ""))
        progress = int(data.get("progress") or 0)
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task, completed=progress, description=f"{self.label} {stage}"
            )
        if (stage, status) != self._shown and not self.quiet:
            self._shown = (stage, status)
            message = str(data.get("message") or "")
            text = f"==> {stage} ({status}, {progress}%)" + (f": {message}" if message else "")
            if self.stages_apart and self._progress is None:
                self.out.note(text)
            else:
                self._print(Text(text, style="bold cyan"))

    def _print(self, text: Text) -> None:
        if self._progress is not None:
            self._progress.console.print(text)
        else:
            self.out.line(text.plain, style=str(text.style) or None)

    def outcome(self) -> tuple[int, str]:
        """The exit code and the one line that says how the deployment ended."""
        status = str(self.status.get("status", ""))
        error = str(self.status.get("error_message") or self.error or "")
        code = EXIT_CODES.get(status, FAILED)
        if status == "success":
            return code, f"{self.label} succeeded"
        if status == "failed":
            return code, f"{self.label} failed: {error or 'no reason given'}"
        return code, f"{self.label} was {status.replace('_', ' ')}" + (
            f": {error}" if error else ""
        )
