"""nlu/rasa_main.py: Rasa's check of the action server's replies, with its validator built
once, accepts and refuses exactly what Rasa's own check does (run in the Rasa environment).
What it saves is measured by ``bench/bench_load.py`` (Rasa's CPU a message), not here."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

PROBE = r"""
import json
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from nlu import rasa_main

good = {"events": [{"event": "slot", "name": "kb_entry", "value": "x", "timestamp": None}],
        "responses": [{"text": "您好", "buttons": [{"title": "有用", "payload": "/affirm"}],
                       "custom": {"html": "<p>x</p>"}}]}
bad = [{"events": "not a list"}, {"events": [{"no_event_key": 1}]}, {"responses": 3}]
action = RemoteAction("action_x", None)

def outcome(check, result):
    try:
        return ["ok", check(action, result)]
    except ValidationError as e:
        return ["error", e.message]

original = RemoteAction._validate_action_result
before = [outcome(original, r) for r in [good, *bad]]
rasa_main.install()
assert RemoteAction._validate_action_result is rasa_main.validate_action_result
after = [outcome(RemoteAction._validate_action_result, r) for r in [good, *bad]]
print(json.dumps({"before": before, "after": after}))
"""


def test_the_cached_check_agrees_with_rasas() -> None:
    out = subprocess.run([str(RASA_PYTHON), "-c", PROBE], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["before"] == data["after"]
    assert data["before"][0] == ["ok", True]
    assert all(kind == "error" and "Failed to validate Action server response" in message
               for kind, message in data["after"][1:])
