"""The README's run command: everything comes up, the web chat answers, Ctrl-C stops it all."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil
import pytest
import websockets

from hotline.local.stack import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.stack


async def _chat(port: int, text: str) -> list[dict]:
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/chat/{uuid.uuid4()}") as ws:
        await ws.send(json.dumps({"text": text}, ensure_ascii=False))
        return json.loads(await asyncio.wait_for(ws.recv(), 60))["messages"]


def _start(var_dir: Path, *args: str) -> tuple[subprocess.Popen[str], str, dict[str, int]]:
    """``hotline run`` with free ports, until it says it is up; its output so far."""
    ports = {name: free_port() for name in ("REDIS", "RASA", "ACTIONS", "GATEWAY")}
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TELEGRAM_TOKEN")}
    env.update({f"HOTLINE_{name}_PORT": str(port) for name, port in ports.items()})
    env.update(HOTLINE_VAR_DIR=str(var_dir), HOTLINE_DATABASE_URL="")
    proc = subprocess.Popen([sys.executable, "-m", "hotline", "run", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 480
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C" in line:
            break
    return proc, "".join(lines), ports


def _console_accepts_first_admin(output: str, port: int) -> None:
    """A fresh install prints its first admin's password; the console accepts it."""
    found = re.search(r"首个管理员账号已创建：admin / (\S+?)（", output)
    assert found, output
    console = f"http://127.0.0.1:{port}/console"
    with httpx.Client(follow_redirects=False) as web:
        form = web.get(f"{console}/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        done = web.post(f"{console}/login", data={
            "username": "admin", "password": found.group(1), "csrf_token": token})
        assert done.status_code == 303 and done.headers["location"] == "/console/dashboard"


def _stops_cleanly(proc: subprocess.Popen[str], children: list[psutil.Process]) -> None:
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, rest
    assert "stopped." in rest
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_run_serves_the_web_chat_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    proc, output, ports = _start(tmp_path)
    try:
        assert f"网页聊天 (web chat): http://127.0.0.1:{ports['GATEWAY']}/" in output, output
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 4  # redis, rasa, actions, gateway
        replies = asyncio.run(_chat(ports["GATEWAY"], "你好"))
        assert "企业服务热线" in replies[0]["text"]
        _console_accepts_first_admin(output, ports["GATEWAY"])
        _stops_cleanly(proc, children)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_run_with_two_replicas_behind_haproxy_on_postgresql() -> None:
    # Not under pytest's private temp root: PostgreSQL runs as its own user under root.
    var_dir = Path(tempfile.mkdtemp(prefix="hotline-run-replicas-"))
    os.chmod(var_dir, 0o755)
    proc, output, ports = _start(var_dir, "--replicas", "2")
    try:
        assert "postgres ready" in output and "haproxy  ready" in output, output
        assert "gateway  2 ready" in output and "rasa     2 ready" in output, output
        assert f"网页聊天 (web chat): http://127.0.0.1:{ports['GATEWAY']}/" in output, output
        names = [" ".join(c.cmdline()) for c in psutil.Process(proc.pid).children(recursive=True)]
        assert sum(" -m bot" in n for n in names) == 2, names
        assert sum(" hotline.rasa_start run" in n for n in names) == 2, names
        assert any("haproxy" in n for n in names) and any("postgres" in n for n in names)
        children = psutil.Process(proc.pid).children(recursive=True)
        for _ in range(4):  # through the balancer, to one gateway and then the other
            replies = asyncio.run(_chat(ports["GATEWAY"], "你好"))
            assert "企业服务热线" in replies[0]["text"]
        _console_accepts_first_admin(output, ports["GATEWAY"])
        _stops_cleanly(proc, children)
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(var_dir, ignore_errors=True)
