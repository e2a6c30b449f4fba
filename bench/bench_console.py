"""Console page speed with a realistic amount of data.

Seeds ``--tickets`` demo tickets (default 3,000) and ``--chats`` queued conversations into
a temporary SQLite file and an embedded Redis, then times each page as a logged-in user
(in-process ASGI client, so the figures are the server's work, not the network's).
Targets: p95 ≤ 500 ms for every page. Run from the repository root::

    .venv/bin/python bench/bench_console.py [--tickets 3000] [--chats 50] [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

P95_TARGET_MS = 500.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=3000)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    from hotline import handoff, transcripts
    from hotline.cli.db import upgrade
    from hotline.db import session_scope
    from hotline.local import seed
    from hotline.local.stack import free_port, redis_server_binary
    from tests.console_helpers import make_harness

    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    port = free_port()
    redis_proc = subprocess.Popen([redis_server_binary(), "--port", str(port), "--save", "",
                                   "--dir", str(tmp)], stdout=subprocess.DEVNULL)
    try:
        db_url = f"sqlite:///{tmp / 'hotline.db'}"
        upgrade(db_url)
        started = time.perf_counter()
        with session_scope(db_url) as session:
            seed.seed_demo(session, count=args.tickets)
        seeded_s = time.perf_counter() - started
        time.sleep(0.2)
        harness = make_harness(db_url, f"redis://127.0.0.1:{port}/0")
        with session_scope(db_url) as session:
            for i in range(args.chats):
                conv = f"tg:{900000 + i}"
                for j in range(20):
                    transcripts.add(session, conv, "telegram", "in" if j % 2 else "out",
                                    "enterprise" if j % 2 else "bot", f"第{j}条消息：施工许可办理进度")
        for i in range(args.chats):
            handoff.request_human(harness.redis, f"tg:{900000 + i}")
        client = harness.login("admin")
        pages = {
            "queue": "/console/queue",
            "chat": "/console/chats/tg:900000",
            "tickets": "/console/tickets",
            "tickets_red": "/console/tickets?light=red",
            "dashboard": "/console/dashboard",
            "dashboard_year": "/console/dashboard?from=2026-01-01",
            "kb_search": "/console/kb?q=注册公司需要什么材料",
        }
        results = {}
        for name, url in pages.items():
            client.get(url)  # warm (templates, KB index)
            times = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            times.sort()
            p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
            results[name] = {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(p95, 1)}
            print(f"{name:15s} p50 {results[name]['p50_ms']:7.1f} ms   p95 {p95:7.1f} ms"
                  f"   {'ok' if p95 <= P95_TARGET_MS else 'OVER TARGET'}")
        print(json.dumps({"tickets": args.tickets, "queued_chats": args.chats,
                          "seed_s": round(seeded_s, 1), "pages": results}, ensure_ascii=False))
    finally:
        redis_proc.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
