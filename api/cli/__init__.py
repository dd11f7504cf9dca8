"""The `fogbank` command (typer): client commands for people and CI, and the server's own
commands. Errors end in one line on standard error and an exit code (api/cli/errors.py), never
a traceback."""

from __future__ import annotations

import sys

import typer

from api.cli.errors import FAILED, INTERRUPTED, USAGE, CliError

USAGE_ERROR_CODE = 2  # what click's UsageError family exits with


def main(argv: list[str] | None = None) -> int:
    """Run the command line `argv` (default: this process's); the exit code."""
    from api.cli.app import build  # noqa: PLC0415 - `import api.cli` stays cheap

    args = sys.argv[1:] if argv is None else argv
    try:
        command = typer.main.get_command(build(client=args[:1] != ["serve"]))
        result = command.main(args=args, prog_name="fogbank", standalone_mode=False)
    except typer.TyperException as exc:  # typer's own click: usage errors and the like
        return _refused(exc)
    except CliError as exc:
        print(f"fogbank: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return INTERRUPTED
    except Exception as exc:  # the last line of defence: a bug, told in one line
        print(f"fogbank: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return FAILED
    return result if isinstance(result, int) else 0


def _refused(exc: typer.TyperException) -> int:
    """A usage error in one line with where to find help (exit 64); help asked for by giving no
    command is printed as it is."""
    message = str(getattr(exc, "format_message", lambda: str(exc))()).strip()
    if getattr(exc, "exit_code", FAILED) != USAGE_ERROR_CODE:
        print(f"fogbank: {message}", file=sys.stderr)
        return FAILED
    if type(exc).__name__ == "NoArgsIsHelpError":
        if message:  # typer's rich help has printed itself already
            print(message)
        return USAGE
    context = getattr(exc, "ctx", None)
    where = getattr(context, "command_path", "") or "fogbank"
    print(f"fogbank: {message} (see `{where} --help`)", file=sys.stderr)
    return USAGE
