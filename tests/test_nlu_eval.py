"""The trained NLU model against the held-out set (never trained on), via the evaluation
command a reviewer would run: `python -m hotline nlu eval FILE`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = ROOT / "tests" / "data" / "nlu_heldout.jsonl"
LETTERS = ROOT / "tests" / "data" / "nlu_letters_heldout.jsonl"
# Letters (written apart from the training letters, never trained on): floors under the
# measured 0.977 topic accuracy / 0.075 citizen letters sent to a topic (see README).
MIN_LETTER_TOPIC_ACCURACY = 0.90
MAX_CITIZEN_TO_TOPIC = 0.10
MAX_LONG_P95_MS = 200  # generous: CI machines are shared; the target (30 ms) is a benchmark
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"

# The build fails below these floors; the targets (accuracy ≥ 0.95, every intent F1 ≥ 0.85)
# are measured by `make eval-nlu` (reached: see README). The floors leave room for the
# run-to-run variation of training on CPU so that CI is not flaky.
MIN_ACCURACY = 0.94
MIN_INTENT_F1 = 0.80
MIN_TRADITIONAL_ACCURACY = 0.92


def _run_eval(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline", "nlu", "eval", str(data)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )


@pytest.fixture(scope="module")
def heldout_eval() -> tuple[dict, str]:
    done = _run_eval(HELDOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    return json.loads(last), done.stdout


def _training_texts() -> set[str]:
    from hotline.textnorm import normalize

    training: set[str] = set()
    for path in (ROOT / "nlu").rglob("*.yml"):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                text = line.strip().removeprefix("- ")
                training.add(normalize(_strip_annotations(text)))
    return training


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_heldout_set_is_large_enough_and_never_trained_on() -> None:
    from hotline.routing import load_taxonomy
    from hotline.textnorm import normalize

    rows = _rows(HELDOUT)
    intents = load_taxonomy().intent_names
    for intent in intents:
        assert sum(r["intent"] == intent for r in rows) >= 15, intent
    training = _training_texts()
    leaked = [r["text"] for r in rows if normalize(r["text"]) in training]
    assert leaked == []


def test_letter_set_is_large_enough_and_never_trained_on() -> None:
    """150+ letters, about a quarter citizens' own matters; none of them (nor a long piece of
    one) in the training data."""
    from hotline.routing import load_taxonomy
    from hotline.textnorm import normalize

    rows = _rows(LETTERS)
    assert len(rows) >= 150
    citizen = sum(r["intent"] == "out_of_scope" for r in rows)
    assert 0.2 <= citizen / len(rows) <= 0.3
    for topic in load_taxonomy().topics:
        assert sum(r["intent"] == topic for r in rows) >= 6, topic
    training = _training_texts()
    long_training = [t for t in training if len(t) >= 60]
    for row in rows:
        text = normalize(row["text"])
        assert text not in training, text[:40]
        # no training letter shares a 40-character stretch with a held-out one
        probes = {text[i:i + 40] for i in range(0, max(1, len(text) - 40), 20)}
        assert not any(p in t for p in probes for t in long_training), text[:40]


@pytest.fixture(scope="module")
def letters_eval() -> dict:
    done = _run_eval(LETTERS)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_letters_are_understood_by_their_content(letters_eval: dict) -> None:
    assert letters_eval["topic_accuracy"] >= MIN_LETTER_TOPIC_ACCURACY, letters_eval
    assert letters_eval["citizen_to_topic"] <= MAX_CITIZEN_TO_TOPIC, letters_eval
    assert letters_eval["entity_violations"] == 0
    assert letters_eval["p95_long_ms"] <= MAX_LONG_P95_MS


def _strip_annotations(text: str) -> str:
    import re

    return re.sub(r"\[([^\]]+)\]\((?:[^)]+)\)|\[([^\]]+)\]\{[^}]*\}", lambda m: m.group(1) or m.group(2), text)


def test_heldout_accuracy_meets_the_bar(heldout_eval: tuple[dict, str]) -> None:
    summary, _ = heldout_eval
    assert summary["n"] >= 26 * 15
    assert summary["accuracy"] >= MIN_ACCURACY, summary
    weak = {k: v for k, v in summary["per_intent_f1"].items() if v < MIN_INTENT_F1}
    assert weak == {}
    assert summary["traditional_accuracy"] >= MIN_TRADITIONAL_ACCURACY


def test_heldout_entities_are_extracted_exactly(heldout_eval: tuple[dict, str]) -> None:
    summary, output = heldout_eval
    assert summary["entity_violations"] == 0
    line = next(x for x in output.splitlines() if x.startswith("entities exact:"))
    share = float(line.rsplit("=", 1)[1])
    assert share >= 0.98, line


def test_eval_output_has_report_errors_and_confusion_matrix(heldout_eval: tuple[dict, str]) -> None:
    summary, output = heldout_eval
    assert "precision" in output and "recall" in output and "f1-score" in output
    assert "errors (" in output
    assert (ROOT / "var" / "nlu_confusion.png").stat().st_size > 10_000
    assert set(summary) == {"n", "accuracy", "macro_f1", "per_intent_f1",
                            "traditional_accuracy", "topic_accuracy", "citizen_to_topic",
                            "entity_violations", "p95_ms", "p95_long_ms", "seconds"}


def test_eval_refuses_a_broken_file_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "你好", "intent": "greet"}\nnot json\n', encoding="utf-8")
    done = _run_eval(bad)
    assert done.returncode != 0
    assert "bad.jsonl:2 is not JSON" in done.stdout + done.stderr


def test_rasa_data_validate_is_clean() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false")
    done = subprocess.run(
        [str(RASA), "data", "validate", "--fail-on-warnings", "--config", "config.yml",
         "--domain", "domain", "--data", "nlu"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
