"""``hotline nlu eval FILE``: evaluate the trained model (runs in the Rasa environment)."""

from __future__ import annotations

import argparse
import os
import subprocess

from hotline.settings import ROOT


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    nlu = sub.add_parser("nlu", help="NLU model")
    nlu_sub = nlu.add_subparsers(dest="nlu_command", required=True)
    ev = nlu_sub.add_parser("eval", help="evaluate on a JSONL file of {text, intent} lines")
    ev.add_argument("data")
    ev.add_argument("--model", default=str(ROOT / "models" / "current.tar.gz"))
    ev.set_defaults(func=evaluate)


def evaluate(args: argparse.Namespace) -> int:
    python = ROOT / ".venv-rasa" / "bin" / "python"
    if not python.exists():
        print("error: no Rasa environment: run `make setup` first")
        return 1
    env = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false")
    cmd = [str(python), str(ROOT / "nlu" / "evaluate.py"), args.data, "--model", args.model]
    return subprocess.call(cmd, env=env)
