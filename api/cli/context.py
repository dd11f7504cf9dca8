"""What every client command starts from: its output (plain or not) and its API client; and
the options they share. The server commands import the options too, so the client's output
(rich) and HTTP modules are imported only when a client command asks for them."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from api.cli.http import Api
    from api.cli.output import Output

CLIENT_PANEL = "Client commands (talk to a fogbank server)"
SERVER_PANEL = "Server commands (run on the fogbank host)"

JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly the API's data as JSON.")]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="TOML settings file (default: $FOGBANK_CONFIG, else built-in defaults)."
    ),
]
PlainOption = Annotated[
    bool, typer.Option("--plain", help="No colour, no progress bar, no prompts.")
]


@dataclass
class State:
    """Set by the root command's options."""

    plain: bool = False


def output(ctx: typer.Context, plain: bool = False) -> Output:
    """Plain with --plain (here or before the command) or when stdout is not a terminal."""
    from api.cli.output import Output  # noqa: PLC0415 - see the module docstring

    state = ctx.find_object(State) or State()
    return Output(plain or state.plain or not sys.stdout.isatty())


def api() -> Api:
    """A client of the server the environment or the credentials file names."""
    from api.cli.credentials import resolve  # noqa: PLC0415 - see the module docstring
    from api.cli.http import Api  # noqa: PLC0415

    return Api(resolve())
