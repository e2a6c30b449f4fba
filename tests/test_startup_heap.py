"""Services start ready to serve (issue 15): Rasa parses messages of several lengths and the
action server searches the knowledge base once before either takes a request, and each
service keeps the heap of its start out of the garbage collector's full passes
(:mod:`hotline.heap`). Each check runs in a process of its own: freezing the heap is for a
whole service's life, never for the test process. What it saves is measured by
``bench/bench_load.py`` (the 8-chat rows, the first chat after a start), not here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


def _run(python: Path | str, code: str, env: dict[str, str] | None = None) -> dict:
    done = subprocess.run([str(python), "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                            "RASA_TELEMETRY_ENABLED": "false", **(env or {})})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_settle_freezes_what_survives_and_collects_the_rest() -> None:
    out = _run(sys.executable, """
import gc, json
from hotline import heap
class Node: pass
a, b = Node(), Node(); a.other, b.other = b, a  # a cycle nobody holds: garbage
del a, b
kept = [{"n": i} for i in range(1000)]
frozen = heap.settle("test")
print(json.dumps({"frozen": frozen, "count": gc.get_freeze_count(),
                  "kept_frozen": not any(o is kept for o in gc.get_objects()),
                  "garbage_left": sum(type(o).__name__ == "Node" for o in gc.get_objects())}))
""")
    assert out["frozen"] == out["count"] > 1000
    assert out["kept_frozen"]  # get_objects() lists no frozen object
    assert out["garbage_left"] == 0


def test_the_action_server_loads_the_knowledge_base_before_it_serves(tmp_path: Path) -> None:
    out = _run(sys.executable, """
import gc, json, time
from actions.__main__ import warm
from hotline.kb import index
warm()
loaded = index._cached is not None
from hotline.kb.search import search
started = time.perf_counter()
search("食品经营许可证怎么申请", topic="business_license", k=3)
print(json.dumps({"loaded": loaded, "frozen": gc.get_freeze_count(),
                  "first_search_ms": (time.perf_counter() - started) * 1000}))
""", env={"HOTLINE_VAR_DIR": str(tmp_path),
          "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'hotline.db'}"})
    assert out["loaded"] and out["frozen"] > 100_000
    # unwarmed, the first search loaded the index (1.2 s on this machine)
    assert out["first_search_ms"] < 600, out


def test_the_action_server_serves_when_warming_up_fails(tmp_path: Path) -> None:
    """No knowledge base where it is looked for: the warm-up says so and the server starts
    all the same (warming is a speed-up; the action answers the failure as before)."""
    out = _run(sys.executable, """
import gc, json, logging
records = []
class Keep(logging.Handler):
    def emit(self, record): records.append(record.getMessage())
logging.getLogger("actions").addHandler(Keep())
from actions.__main__ import warm
warm()
print(json.dumps({"frozen": gc.get_freeze_count(), "log": records}))
""", env={"HOTLINE_VAR_DIR": str(tmp_path), "HOTLINE_KB_DIR": str(tmp_path / "no-kb"),
          "HOTLINE_KB_INDEX": str(tmp_path / "no-index"),
          "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'hotline.db'}"})
    assert out["log"] == ["warming up failed; serving anyway"], out["log"]
    assert out["frozen"] > 0


def test_rasa_warms_and_settles_once_its_model_is_loaded() -> None:
    out = _run(RASA_PYTHON, """
import asyncio, gc, json, logging, types
from rasa.core import run
from rasa.core.actions.action import RemoteAction
from rasa.core.utils import AvailableEndpoints
from hotline import rasa_start
from nlu import rasa_main

records = []
class Keep(logging.Handler):
    def emit(self, record): records.append(record.getMessage())
logging.getLogger("hotline").addHandler(Keep()); logging.getLogger("hotline").setLevel(logging.INFO)
rasa_start.install()
app = types.SimpleNamespace(ctx=types.SimpleNamespace())
agent = asyncio.run(run.load_agent_on_start("models/current.tar.gz", AvailableEndpoints(),
                                            None, app, None))
print(json.dumps({"wrapped": run.load_agent_on_start.__wrapped__.__module__,
                  "check": RemoteAction._validate_action_result is rasa_main.validate_action_result,
                  "agent": app.ctx.agent is agent and agent.is_ready(),
                  "frozen": gc.get_freeze_count(), "log": records}))
""")
    assert out["wrapped"] == "rasa.core.run" and out["check"] and out["agent"]
    assert out["frozen"] > 100_000, out
    assert any(line.startswith("Rasa warmed in") for line in out["log"]), out["log"]
    assert any(line.startswith("rasa: ") and "kept out of the collector" in line
               for line in out["log"]), out["log"]
