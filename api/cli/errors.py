"""How the `fogbank` command ends: its exit codes, and the one error a command raises to end
with a one-line message on standard error."""

from __future__ import annotations

OK = 0
FAILED = 1  # a deployment failed, or the server refused the request
STOPPED = 2  # a deployment was stopped or superseded
UNREACHABLE = 3  # cannot reach the server, or not authenticated
FORBIDDEN = 4  # authenticated, but the role is too low
USAGE = 64  # a mistake on the command line (sysexits' EX_USAGE: 2 means "stopped" here)
INTERRUPTED = 130  # Ctrl-C


class CliError(Exception):
    """Printed as `fogbank: <message>` on standard error; the command exits `exit_code`."""

    def __init__(self, message: str, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
