"""Which cores each local service may run on.

Rasa caps the whole product: one Rasa server is one Python event loop, saturated near one
core at 32 concurrent chats while every other service together needs about 0.6 of a core.
Left to the scheduler on a small machine, the gateway, the action server and Redis keep
landing on Rasa's core, and Rasa waits for it: at 32 chats on 2 cores the web chat's
throughput was 0.85-0.88 x raw Rasa's. With each Rasa server on a core of its own and the
other services sharing the rest, it was 0.92-0.96 x (bench/bench_load.py, issue 15's note).
Kubernetes does the same for pods with whole-core CPU requests under its static CPU manager.

When the machine has no core to spare beside the Rasa servers (2 replicas on 2 cores), or
``HOTLINE_PIN_CPUS`` is off, or the platform cannot pin (not Linux), nothing is pinned.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection

_RASA_RE = re.compile(r"rasa(\d*)")


def available() -> list[int]:
    """The cores this process may use (all of them, unless it was itself pinned)."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


def placement(service: str, rasa_servers: int, cores: Collection[int]) -> frozenset[int] | None:
    """The cores ``service`` may run on, or None (anywhere). Rasa server ``i`` (named
    ``rasa`` or ``rasa<i>``) gets the ``i``-th core alone; every other service the cores
    left over."""
    ordered = sorted(cores)
    if rasa_servers < 1 or len(ordered) <= rasa_servers:
        return None
    match = _RASA_RE.fullmatch(service)
    if match is None:
        return frozenset(ordered[rasa_servers:])
    index = int(match.group(1) or 1) - 1
    return frozenset({ordered[index]}) if 0 <= index < rasa_servers else None


def pin_before_exec(cores: frozenset[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that confines the child (and every thread it starts) to ``cores``."""
    if not cores or not hasattr(os, "sched_setaffinity"):
        return None

    def pin() -> None:
        os.sched_setaffinity(0, cores)

    return pin
