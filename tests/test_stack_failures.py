"""Start-up failures say in one line what is wrong and what to do, and exit non-zero."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hotline.local.stack import Ports, Stack, StackError

ROOT = Path(__file__).resolve().parent.parent


def _fake_rasa(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-rasa-python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


def _model(tmp_path: Path) -> Path:
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"not used")
    return model


def test_rasa_that_never_gets_ready_is_reported(tmp_path: Path) -> None:
    stack = Stack(var_dir=tmp_path / "var", ports=Ports.free(), model=_model(tmp_path),
                  rasa_python=_fake_rasa(tmp_path, "sleep 60"), rasa_timeout_s=3)
    with pytest.raises(StackError, match=r"rasa was not ready after 3 s: see .*rasa\.log"):
        stack.start(gateway=False, log=lambda _line: None)
    assert stack.services == []  # everything that was started is stopped again


def test_rasa_that_dies_is_reported_with_its_log(tmp_path: Path) -> None:
    stack = Stack(var_dir=tmp_path / "var", ports=Ports.free(), model=_model(tmp_path),
                  rasa_python=_fake_rasa(tmp_path, "echo boom; exit 3"), rasa_timeout_s=30)
    with pytest.raises(StackError, match="rasa exited with code 3 before it was ready"):
        stack.start(gateway=False, log=lambda _line: None)
    assert "boom" in (tmp_path / "var" / "logs" / "rasa.log").read_text()


def test_missing_model_says_to_run_setup(tmp_path: Path) -> None:
    stack = Stack(var_dir=tmp_path / "var", model=tmp_path / "none.tar.gz")
    with pytest.raises(StackError, match="make setup"):
        stack.start()


def test_run_command_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = dict(os.environ, HOTLINE_VAR_DIR=str(tmp_path), HOTLINE_GATEWAY_PORT=str(port))
        done = subprocess.run([sys.executable, "-m", "hotline", "run"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert f"port {port} for gateway is already in use" in errors[0]
    assert "HOTLINE_GATEWAY_PORT" in errors[0]


def test_setup_without_python_310_says_what_to_install(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "pyenv"),
           "HOTLINE_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "setup.sh")], env=env,
                          capture_output=True, text=True, timeout=60)
    if Path("/usr/bin/python3.10").exists():
        pytest.skip("this machine has a system Python 3.10")
    assert done.returncode != 0
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")] != []
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Python 3.10 not found" in done.stderr and "pyenv install 3.10.13" in done.stderr
