"""Issue 10, "one part dies, the whole product stops": a crashed service is restarted with
backoff and logged, the others keep running, and only repeated crashes stop everything."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from hotline.local.stack import Service, Stack, free_port
from hotline.local.supervise import Policy, supervise

ROOT = Path(__file__).resolve().parent.parent
FAST = Policy(first_delay_s=0.05, max_delay_s=0.2, reset_after_s=60, max_crashes=5,
              window_s=60, tick_s=0.02)


def _service(name: str, code: str) -> Service:
    return Service(name, [sys.executable, "-c", code], ready=lambda: True, timeout_s=5, hint="")


def _until(check: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@contextmanager
def _supervised(tmp_path: Path, *codes: str, policy: Policy = FAST
                ) -> Iterator[tuple[Stack, list[str], threading.Event, list[int]]]:
    stack = Stack(var_dir=tmp_path / "var")
    for i, code in enumerate(codes):
        stack._spawn(_service(f"svc{i}", code))
    lines: list[str] = []
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(
        supervise(list(stack.services), stack.respawn, stop, policy=policy, log=lines.append)))
    thread.start()
    try:
        yield stack, lines, stop, result
    finally:
        stop.set()
        thread.join(10)
        stack.stop(timeout_s=5)


SLEEPER = "import time; time.sleep(60)"


def test_killed_service_is_restarted_and_the_others_keep_running(tmp_path: Path) -> None:
    with _supervised(tmp_path, SLEEPER, SLEEPER) as (stack, lines, stop, result):
        victim, other = stack.services
        assert victim.process is not None and other.process is not None
        old_pid, other_pid = victim.process.pid, other.process.pid
        os.kill(old_pid, signal.SIGKILL)
        _until(lambda: victim.process is not None and victim.process.pid != old_pid)
        assert victim.process.poll() is None
        assert other.process.pid == other_pid and other.process.poll() is None
        assert any("svc0 exited with code -9 (SIGKILL); restart 1 in 0.05 s" in line
                   and "svc0.log" in line for line in lines), lines
        _until(lambda: any("svc0 restarted (restart 1" in line for line in lines))
        # A second kill is restarted too (after a longer delay).
        os.kill(victim.process.pid, signal.SIGKILL)
        _until(lambda: any("restart 2 in 0.1 s" in line for line in lines))
        stop.set()
        _until(lambda: result == [0])  # Ctrl-C still ends supervision cleanly
        processes = [s.process for s in stack.services]
    assert all(p is not None and p.poll() is not None for p in processes)


def test_repeated_crashes_give_up_with_a_non_zero_result(tmp_path: Path) -> None:
    crasher = "import sys; sys.exit(3)"
    with _supervised(tmp_path, SLEEPER, crasher) as (stack, lines, _stop, result):
        _until(lambda: result != [])
        assert result == [1]
        delays = [line.split(" in ")[1].split(" s ")[0] for line in lines if " in " in line]
        assert delays == ["0.05", "0.1", "0.2", "0.2"], lines  # doubled, capped at max_delay_s
        assert "svc1 exited with code 3; it crashed 5 times within 60 s, giving up" in lines[-1]
        assert lines[-1].startswith("error:")
        sleeper = stack.services[0].process
        assert sleeper is not None and sleeper.poll() is None  # stopping is the caller's job


def test_backoff_starts_over_after_a_service_stayed_up(tmp_path: Path) -> None:
    policy = Policy(first_delay_s=0.05, max_delay_s=1, reset_after_s=0.2, max_crashes=3,
                    window_s=0.5, tick_s=0.02)
    late_crasher = "import sys, time; time.sleep(0.4); sys.exit(2)"
    with _supervised(tmp_path, late_crasher, policy=policy) as (_stack, lines, _stop, result):
        _until(lambda: sum("restart" in line and " in " in line for line in lines) >= 3)
        assert result == []  # crashes far apart never add up to giving up
    delays = [line.split(" in ")[1].split(" s ")[0] for line in lines if " in " in line]
    assert delays[:3] == ["0.05", "0.05", "0.05"], lines


@pytest.mark.stack
def test_run_restarts_a_killed_action_server(tmp_path: Path) -> None:
    """The issue's case end to end: kill -9 the action server under ``hotline run``."""
    ports = {name: free_port() for name in ("REDIS", "RASA", "ACTIONS", "GATEWAY")}
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TELEGRAM_TOKEN")}
    env.update({f"HOTLINE_{name}_PORT": str(port) for name, port in ports.items()})
    env.update(HOTLINE_VAR_DIR=str(tmp_path), HOTLINE_DATABASE_URL="")
    proc = subprocess.Popen([sys.executable, "-m", "hotline", "run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: [out.put(line) for line in proc.stdout], daemon=True)
    reader.start()

    def wait_for(text: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        seen = []
        while time.monotonic() < deadline:
            try:
                line = out.get(timeout=1)
            except queue.Empty:
                assert proc.poll() is None, "".join(seen)
                continue
            seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no {text!r} in: {''.join(seen)}")

    try:
        wait_for("Ctrl-C", 480)
        children = psutil.Process(proc.pid).children()
        actions = next(c for c in children if c.cmdline()[1:3] == ["-m", "actions"])
        others = [c for c in children if c.pid != actions.pid]
        actions.kill()
        line = wait_for("actions exited with code -9", 10)
        assert "restart 1 in 1 s" in line and "actions.log" in line
        wait_for("actions restarted (restart 1", 10)
        _until(lambda: _healthy(ports["ACTIONS"]), timeout_s=60)
        assert proc.poll() is None
        assert all(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in others)
        health = httpx.get(f"http://127.0.0.1:{ports['GATEWAY']}/healthz", timeout=5)
        assert health.status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        wait_for("stopped.", 10)
    finally:
        if proc.poll() is None:
            proc.kill()


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
