"""Time from `start` to every service ready (embedded Redis, Rasa with the model, actions,
gateway), then a clean stop. Run after `make setup`:

    .venv/bin/python bench/bench_startup.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hotline.local.stack import Ports, Stack  # noqa: E402


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(var_dir=Path(tmp), ports=Ports.free())
        start = time.perf_counter()
        stack.start(log=lambda line: print(f"{time.perf_counter() - start:6.1f} s {line}"))
        ready = time.perf_counter() - start
        stop_start = time.perf_counter()
        stack.stop()
        print(f"all ready in {ready:.1f} s; stopped in {time.perf_counter() - stop_start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
