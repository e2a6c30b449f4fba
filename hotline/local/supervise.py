"""Keeps the stack's processes alive: a service that dies is restarted with exponential
backoff, and only a service that keeps crashing makes the supervisor give up.

Policy (defaults): restart after 1 s, 2 s, 4 s … capped at 30 s; a service that stayed up for
60 s starts again from 1 s; 5 crashes of one service within 5 minutes mean giving up. Every exit
and every restart is logged with the service, its exit code, the restart number and the delay.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar


@dataclass(frozen=True)
class Policy:
    first_delay_s: float = 1.0
    max_delay_s: float = 30.0
    reset_after_s: float = 60.0  # up this long → the next crash restarts after first_delay_s
    max_crashes: int = 5  # this many crashes of one service within window_s → give up
    window_s: float = 300.0
    tick_s: float = 0.5  # how often processes are polled

    def delay(self, streak: int) -> float:
        """Delay before the restart that follows ``streak`` quick crashes in a row (0-based)."""
        return min(self.first_delay_s * 2.0 ** min(streak, 32), self.max_delay_s)


class Child(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def process(self) -> subprocess.Popen[bytes] | None: ...

    @property
    def log_path(self) -> Path | None: ...


C = TypeVar("C", bound=Child)


@dataclass
class _State:
    started: float
    streak: int = 0  # quick crashes in a row; decides the delay
    restarts: int = 0  # restarts so far, for the log
    crashes: deque[float] = field(default_factory=deque)
    restart_at: float | None = None  # a restart is pending


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"code {code} ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"code {code}"


def supervise(
    children: Sequence[C],
    respawn: Callable[[C], None],
    stop: threading.Event,
    *,
    policy: Policy = Policy(),
    log: Callable[[str], None] = print,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Watch ``children`` until ``stop`` is set (returns 0) or one of them keeps crashing
    (returns 1, after logging why). ``respawn(child)`` must start a new process for ``child``.
    Shutting the others down is the caller's job, in both cases."""
    now = clock()
    states = {id(child): _State(started=now) for child in children}
    while not stop.wait(policy.tick_s):
        now = clock()
        for child in children:
            state = states[id(child)]
            if state.restart_at is not None:
                if now >= state.restart_at:
                    state.restart_at = None
                    respawn(child)
                    state.started = clock()
                    pid = child.process.pid if child.process is not None else "?"
                    log(f"  {child.name} restarted (restart {state.restarts}, pid {pid})")
                continue
            proc = child.process
            code = proc.poll() if proc is not None else None
            if code is None:
                continue
            where = f"see {child.log_path}" if child.log_path else "no log"
            state.crashes.append(now)
            while state.crashes and now - state.crashes[0] > policy.window_s:
                state.crashes.popleft()
            if len(state.crashes) >= policy.max_crashes:
                log(f"error: {child.name} exited with {describe_exit(code)}; it crashed "
                    f"{len(state.crashes)} times within {policy.window_s:.0f} s, giving up and "
                    f"stopping everything ({where})")
                return 1
            if now - state.started >= policy.reset_after_s:
                state.streak = 0
            delay = policy.delay(state.streak)
            state.streak += 1
            state.restarts += 1
            state.restart_at = now + delay
            log(f"warning: {child.name} exited with {describe_exit(code)}; "
                f"restart {state.restarts} in {delay:g} s ({where})")
    return 0
