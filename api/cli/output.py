"""What the client prints: on a terminal, colour, tables and progress bars; piped (or with
--plain), plain lines without a single escape sequence and never a prompt; with --json, exactly
the API's data. Errors go to standard error, one line each."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from api.cli.errors import USAGE, CliError


def _console(plain: bool, *, stderr: bool = False) -> Console:
    if plain:
        # No terminal and no colour system: rich writes the text and nothing else.
        return Console(
            stderr=stderr, force_terminal=False, color_system=None, highlight=False, soft_wrap=True
        )
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


@dataclass
class Output:
    plain: bool
    console: Console = field(init=False)
    errors: Console = field(init=False)

    def __post_init__(self) -> None:
        self.console = _console(self.plain)
        self.errors = _console(self.plain or not sys.stderr.isatty(), stderr=True)

    def line(self, text: str, style: str | None = None) -> None:
        self.console.print(Text(text, style="" if self.plain else (style or "")))

    def note(self, text: str, style: str = "dim") -> None:
        """Something about the command itself (not its output): on standard error."""
        self.errors.print(Text(text, style="" if self.plain else (style or "")))

    def json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def json_line(self, data: Any) -> None:
        """One JSON document per line (a stream of frames)."""
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        cells = [["" if value is None else str(value) for value in row] for row in rows]
        if self.plain:
            widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
            for row in [[h.upper() for h in headers], *cells]:
                print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
            return
        table = Table(*headers, box=None, header_style="bold", pad_edge=False)
        for row in cells:
            table.add_row(*row)
        self.console.print(table)

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        """`key: value` lines (an object shown to a person)."""
        width = max(len(key) for key, _ in pairs)
        for key, value in pairs:
            shown = "" if value is None else str(value)
            if self.plain:
                print(f"{key.ljust(width)}  {shown}")
            else:
                self.console.print(Text.assemble((key.ljust(width), "bold"), "  ", shown))

    def prompt(self, question: str, *, secret: bool = False) -> str:
        if self.plain or not sys.stdin.isatty():
            raise CliError(f"cannot ask for {question.lower()}: not a terminal", USAGE)
        if secret:
            return getpass.getpass(f"{question}: ")
        return self.console.input(f"{question}: ")
