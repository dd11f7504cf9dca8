"""How the `fogbank serve` process runs: its event loop and its garbage collector.

Both matter for the tail latency of a busy server (BENCHMARKS.md, bench/webhook_burst.py):
- uvloop runs the same asyncio code on libuv, with cheaper sockets, timers and callbacks;
- the collector: by default CPython scans the youngest generation every 700 net allocations
  and, now and then, every object the process holds. A server holds tens of thousands of
  long-lived objects from start-up (modules, the ORM's models, the routing map); scanning them
  again and again stalls every request in flight. Freezing them after start-up takes them out
  of every later scan, and a larger first threshold makes the young scans rarer. Cyclic garbage
  is still collected.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")

# Young-generation threshold and the two older ones (CPython's defaults: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 100)


def run(main: Coroutine[Any, Any, T], event_loop: str) -> T:
    """Run `main` to completion on the chosen event loop ("uvloop" or "asyncio")."""
    if event_loop == "uvloop":
        return uvloop.run(main)
    return asyncio.run(main)


def settle_garbage_collector() -> None:
    """Collect once, freeze what survived start-up, and make young collections rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
