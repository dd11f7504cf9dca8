"""What /proc shows about processes: to check that git left no process and no secret in argv."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    name: str  # the kernel's comm: still there for a zombie, whose cmdline is empty
    argv: tuple[bytes, ...]

    @property
    def command_line(self) -> bytes:
        return b" ".join(self.argv)


def processes() -> list[Proc]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # gone meanwhile, or not ours to read
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        found.append(Proc(int(entry.name), ppid, name, tuple(argv.rstrip(b"\0").split(b"\0"))))
    return found


def descendants(root: int | None = None) -> list[Proc]:
    """Every process below `root` (default: this one)."""
    root = os.getpid() if root is None else root
    table = processes()
    below: list[Proc] = []
    parents = {root}
    while True:
        more = [p for p in table if p.ppid in parents and p not in below]
        if not more:
            return below
        below.extend(more)
        parents.update(p.pid for p in more)


def git_processes(marker: bytes) -> list[Proc]:
    """git processes below this one (zombies too), and any process whose argv names `marker`
    (a helper git started and that outlived it would be re-parented away from us)."""
    mine = [p for p in descendants() if p.name.startswith("git")]
    named = [p for p in processes() if marker in p.command_line and p.pid != os.getpid()]
    return list({p.pid: p for p in [*mine, *named]}.values())
