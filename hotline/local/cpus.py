"""Which cores each local service may run on (and the load harness, :func:`placement` of
``"loadgen"``: the cores the services other than Rasa run on).

Rasa caps the whole product: one Rasa server is one Python event loop, saturated near one
core at 32 concurrent chats while every other service together needs about 0.6 of a core.
Left to the scheduler on a small machine, the gateway, the action server and Redis keep
landing on Rasa's core, and Rasa waits for it: at 32 chats on 2 cores the web chat's
throughput was 0.85-0.88 x raw Rasa's. With each Rasa server on a core of its own and the
other services sharing the rest, it was 0.92-0.96 x (bench/bench_load.py, issue 15's note).
Kubernetes does the same for pods with whole-core CPU requests under its static CPU manager.

With one Rasa server, Redis shares its core. Rasa 3.6 talks to its tracker store through a
blocking Redis client (a read and a read-and-write a message): while Redis answers, Rasa's
core has nothing to run, and a Redis among the other services first waits its turn behind
them. On Rasa's core it runs at once. At 32 chats on 2 cores Rasa's core was busy 0.88-0.89
of the time on the web path (0.93-0.95 raw) with Redis on the other core, 0.99 (1.00 raw)
with it on Rasa's; throughput rose 4-5 % on both paths (bench/bench_load.py, issue 15's
note, session 13). Several Rasa servers share one Redis (their locks too): it stays with the
other services, on no server's core.

When the machine has no core to spare beside the Rasa servers (2 replicas on 2 cores), or
``HOTLINE_PIN_CPUS`` is off, or the platform cannot pin (not Linux), nothing is pinned.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Collection, Sequence

_RASA_RE = re.compile(r"rasa(\d*)")


def available() -> list[int]:
    """The cores this process may use (all of them, unless it was itself pinned)."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


def placement(service: str, rasa_servers: int, cores: Collection[int]) -> frozenset[int] | None:
    """The cores ``service`` may run on, or None (anywhere). Rasa server ``i`` (named
    ``rasa`` or ``rasa<i>``) gets the ``i``-th core alone (but for Redis, when it is the only
    server); every other service the cores left over."""
    ordered = sorted(cores)
    if rasa_servers < 1 or len(ordered) <= rasa_servers:
        return None
    if service == "redis" and rasa_servers == 1:
        return frozenset(ordered[:1])
    match = _RASA_RE.fullmatch(service)
    if match is None:
        return frozenset(ordered[rasa_servers:])
    index = int(match.group(1) or 1) - 1
    return frozenset({ordered[index]}) if 0 <= index < rasa_servers else None


def pinned(argv: Sequence[str], cores: frozenset[int] | None) -> list[str]:
    """``argv`` run on ``cores`` only: through util-linux's ``taskset``, which sets the
    affinity and execs the program (same process, and every thread it starts inherits it).
    Not a ``preexec_fn``: that is unsafe in a parent with threads (the supervisor respawns
    from one). Without ``cores`` or ``taskset``, ``argv`` unchanged."""
    taskset = shutil.which("taskset")
    if not cores or taskset is None:
        return list(argv)
    return [taskset, "--cpu-list", ",".join(str(c) for c in sorted(cores)), *argv]
