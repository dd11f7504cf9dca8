"""`python -m controller.edge DIRECTORY`: the edge runner as fogbank starts it when no service
manager runs it (`--detach`: fork, and let the parent return at once). Exits 0 at once when a
runner already holds the directory's lock."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from controller.edge.daemon import PID_FILE, hold_lock, runner_pid
from controller.edge.runner import EdgeRunner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m controller.edge")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--caddy", default="caddy")
    parser.add_argument("--stop-timeout", type=float, default=5.0)
    parser.add_argument("--detach", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not every admin API poll
    directory: Path = args.directory.resolve()
    lock = hold_lock(directory)
    if lock is None:
        print(f"edge runner already running (pid {runner_pid(directory)})", flush=True)
        return 0
    if args.detach:
        child = os.fork()
        if child > 0:  # the child holds the lock (an inherited fd) from here on
            (directory / PID_FILE).write_text(f"{child}\n")
            os._exit(0)
    return asyncio.run(EdgeRunner(directory, args.caddy, args.stop_timeout).run())


if __name__ == "__main__":
    sys.exit(main())
