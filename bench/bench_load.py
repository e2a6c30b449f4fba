"""Load harness: the same scripted chats sent to raw Rasa REST and through the product (web
chat websockets; Telegram via the fake Bot API by webhook), interleaved in one run, at several
concurrency levels. Prints p50/p95 reply time, throughput and the ratios to raw Rasa, and a
`/metrics` sample taken at the end. Run after `make setup`:

    .venv/bin/python bench/bench_load.py                  # levels 1, 8, 32, 64; 2 rounds each
    .venv/bin/python bench/bench_load.py --levels 8,32 --rounds 3 --paths raw,web
    .venv/bin/python bench/bench_load.py --levels 32 --topologies single,replicas

``cpu`` is how busy the whole machine was during a path's rounds (all cores, every process):
near 100 %, more replicas on this machine have nothing to run on. ``CPU ms/msg`` under each
row: CPU time per message answered of each service (with its children) and of the load
generator; what the machine spent beyond their sum went to other programs, printed as
``others`` (cores they took on average: this machine is shared, and a row measured while
another program ran is not comparable with one measured without). Every chat is a fresh
sender (no tracker growth across rounds); each simulated enterprise holds ``--in-turn`` chats
(default 3) one after another in a round, so that the level stays at its number of open
chats for most of the round rather than falling as chats end (the last ones of a round run
with Rasa partly idle: at 32 chats on 2 cores the web chat's throughput was 0.91-0.94 x raw
with 1 chat in turn, 0.95-0.98 x with 3; session 13). Rounds alternate the paths (raw, web,
telegram, raw, web, …) so that drift on a shared machine hits all of them alike. ``core busy``:
each core's busy share (Rasa's own core below 1.00: Rasa sat idle, waiting). The generator
stands for the enterprises' phones: it runs on the cores of the services other than Rasa,
never on Rasa's. The first chat after each start is timed and printed apart. The last line
is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from itertools import zip_longest
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import httpx  # noqa: E402
import psutil  # noqa: E402
import websockets  # noqa: E402

from bench.chaos import start_stack  # noqa: E402
from hotline.local import cpus  # noqa: E402
from hotline.local.stack import Stack  # noqa: E402
from tests.fake_telegram import FakeTelegram  # noqa: E402

SCRIPT = ["你好", "想开个小饭馆，要办什么证", "高新技术企业认定需要满足什么条件", "谢谢"]
TIMEOUT_S = 120.0


def _cpu(process: psutil.Process, reaped: bool = False) -> float:
    """User + system CPU seconds; ``reaped``: with the children it has waited for (a
    PostgreSQL backend that ended would take its time away with it)."""
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    own = times.user + times.system
    return own + times.children_user + times.children_system if reaped else own


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Paths:
    def __init__(self, stack: Stack, fake: FakeTelegram) -> None:
        self.rasa = f"http://127.0.0.1:{stack.ports.rasa}"
        self.gateway = f"http://127.0.0.1:{stack.ports.gateway}"
        self.fake = fake
        self._chat = 80_000_000
        # Per-process CPU: each service with its children (PostgreSQL's backends), and this
        # load generator alone (the services are its children too).
        self.processes = {s.name: psutil.Process(s.process.pid) for s in stack.services
                          if s.process is not None}

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds so far of each service (with its children) and of the load generator."""
        seconds = {}
        for name, process in self.processes.items():
            try:
                seconds[name] = sum(_cpu(p, reaped=True)
                                    for p in [process, *process.children(recursive=True)])
            except psutil.Error:
                seconds[name] = float("nan")
        seconds["loadgen"] = _cpu(psutil.Process())
        return seconds

    async def raw(self, client: aiohttp.ClientSession, latencies: list[float]) -> None:
        sender = f"load-raw-{uuid.uuid4().hex[:12]}"
        for text in SCRIPT:
            started = time.perf_counter()
            async with client.post(f"{self.rasa}/webhooks/rest/webhook",
                                   json={"sender": sender, "message": text}) as response:
                response.raise_for_status()
                await response.read()
            latencies.append(time.perf_counter() - started)

    async def web(self, _client: aiohttp.ClientSession, latencies: list[float]) -> None:
        url = self.gateway.replace("http", "ws", 1) + f"/ws/chat/{uuid.uuid4()}"
        async with websockets.connect(url, max_size=2**22) as ws:
            for text in SCRIPT:
                started = time.perf_counter()
                await ws.send(json.dumps({"text": text}, ensure_ascii=False))
                while True:  # the frame answering this message (pushes have no "messages")
                    frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT_S))
                    if "messages" in frame:
                        break
                latencies.append(time.perf_counter() - started)

    async def telegram_quiet(self, quiet_s: float = 1.5, bound_s: float = 60.0) -> None:
        """Until the bot has sent nothing for ``quiet_s``: a Telegram round ends at each
        message's first reply, while the rest of the replies still leave at Telegram's
        per-chat pace (3 in 3 s) and would run, with the gateway's CPU, into the next round."""
        count, since = len(self.fake.sent()), time.monotonic()
        deadline = since + bound_s
        while time.monotonic() - since < quiet_s and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            now = len(self.fake.sent())
            if now != count:
                count, since = now, time.monotonic()

    async def telegram(self, _client: aiohttp.ClientSession, latencies: list[float]) -> None:
        self._chat += 1
        chat = self._chat
        for text in SCRIPT:
            before = len(self.fake.sent(chat))
            started = time.perf_counter()
            self.fake.user_says(chat, text)
            deadline = started + TIMEOUT_S
            while len(self.fake.sent(chat)) <= before:
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"no reply in chat {chat}")
                await asyncio.sleep(0.005)
            latencies.append(time.perf_counter() - started)


async def _round(paths: Paths, path: str, chats: int, in_turn: int) -> dict[str, Any]:
    """``chats`` enterprises at once, each holding ``in_turn`` chats one after another."""
    latencies: list[float] = []

    async def enterprise(client: aiohttp.ClientSession) -> None:
        for _ in range(in_turn):
            await getattr(paths, path)(client, latencies)

    # aiohttp, as the gateway uses towards Rasa: httpx's client would spend ~2 ms of this
    # machine's CPU a request on the raw path alone, slowing Rasa beside it.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=chats + 8),
                                     timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as client:
        psutil.cpu_percent(None)  # the machine's busy share from here on (all cores)
        before, busy_before = paths.cpu_seconds(), _machine_busy()
        cores_before = psutil.cpu_times(percpu=True)
        started = time.perf_counter()
        results = await asyncio.gather(*(enterprise(client) for _ in range(chats)),
                                       return_exceptions=True)
        wall = time.perf_counter() - started
        cpu = psutil.cpu_percent(None)
        after, busy_after = paths.cpu_seconds(), _machine_busy()
        cores_after = psutil.cpu_times(percpu=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    cpu_s = {k: after[k] - before[k] for k in after}
    return {"latencies": latencies, "wall": wall, "errors": len(errors), "cpu": cpu,
            "cpu_s": cpu_s,
            # what the machine spent beyond the services and this load generator: another
            # program on the machine, taking cores the services would have had
            "others_s": max(0.0, busy_after - busy_before - sum(cpu_s.values())),
            # busy seconds of each core: is Rasa's core ever idle while chats wait?
            "core_busy_s": [_busy(a) - _busy(b) for a, b in zip(cores_after, cores_before)],
            "error": repr(errors[0])[:200] if errors else None}


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, every process)."""
    return _busy(psutil.cpu_times())


def _busy(times: Any) -> float:
    """Busy seconds in ``times`` (one core's or the machine's), as psutil.cpu_percent counts:
    guest time is in user already."""
    return (sum(times) - times.idle - getattr(times, "iowait", 0.0)
            - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0))


async def _run(levels: list[int], rounds: int, path_names: list[str],
               paths: Paths, in_turn: int) -> list[dict[str, Any]]:
    rows = []
    for chats in levels:
        samples: dict[str, list[float]] = {p: [] for p in path_names}
        walls: dict[str, float] = {p: 0.0 for p in path_names}
        counts: dict[str, int] = {p: 0 for p in path_names}
        errors: dict[str, int] = {p: 0 for p in path_names}
        cpu: dict[str, list[float]] = {p: [] for p in path_names}
        cpu_s: dict[str, dict[str, float]] = {p: {} for p in path_names}
        others: dict[str, float] = {p: 0.0 for p in path_names}
        cores: dict[str, list[float]] = {p: [] for p in path_names}
        for _ in range(rounds):
            for name in path_names:
                result = await _round(paths, name, chats, in_turn)
                samples[name] += result["latencies"]
                walls[name] += result["wall"]
                counts[name] += len(result["latencies"])
                errors[name] += result["errors"]
                cpu[name].append(result["cpu"])
                others[name] += result["others_s"]
                cores[name] = [a + b for a, b in
                               zip_longest(cores[name], result["core_busy_s"], fillvalue=0.0)]
                for process, seconds in result["cpu_s"].items():
                    cpu_s[name][process] = cpu_s[name].get(process, 0.0) + seconds
                if result["error"]:
                    print(f"  {name} at {chats}: {result['error']}", flush=True)
                if name == "telegram":
                    await paths.telegram_quiet()
        raw_p95 = _pct(samples.get("raw", []), 0.95)
        raw_tp = counts.get("raw", 0) / walls["raw"] if walls.get("raw") else float("nan")
        for name in path_names:
            p50, p95 = _pct(samples[name], 0.5), _pct(samples[name], 0.95)
            throughput = counts[name] / walls[name] if walls[name] else float("nan")
            row = {"chats": chats, "path": name, "messages": counts[name],
                   "p50_ms": round(p50 * 1000, 1), "p95_ms": round(p95 * 1000, 1),
                   "mean_ms": round(statistics.fmean(samples[name]) * 1000, 1)
                   if samples[name] else None,
                   "throughput_msg_s": round(throughput, 2), "errors": errors[name],
                   "cpu_pct": round(statistics.fmean(cpu[name]), 1),
                   # cores other programs took on average during the rounds
                   "others_cores": round(others[name] / walls[name], 2) if walls[name] else None,
                   # each core's busy share: Rasa's own core below ~1.0 means Rasa sat idle
                   "core_busy": [round(c / walls[name], 2) for c in cores[name]]
                   if walls[name] else [],
                   # ms of CPU per message answered, by process: who the cores went to
                   "cpu_ms_per_msg": {k: round(v * 1000 / counts[name], 2)
                                      for k, v in cpu_s[name].items()} if counts[name] else {},
                   "p95_vs_raw": round(p95 / raw_p95, 2) if "raw" in samples else None,
                   "throughput_vs_raw": round(throughput / raw_tp, 2) if "raw" in samples
                   else None}
            rows.append(row)
            print(f"{chats:>4} chats  {name:<8} n={row['messages']:<5} p50 {row['p50_ms']:>8} ms"
                  f"  p95 {row['p95_ms']:>8} ms  {row['throughput_msg_s']:>7} msg/s"
                  f"  p95×raw {row['p95_vs_raw']}  thr×raw {row['throughput_vs_raw']}"
                  f"  errors {row['errors']}  cpu {row['cpu_pct']}%"
                  f"  others {row['others_cores']} cores", flush=True)
            print("            CPU ms/msg " + "  ".join(
                f"{k} {v}" for k, v in row["cpu_ms_per_msg"].items())
                  + "  core busy " + " ".join(f"{c:.2f}" for c in row["core_busy"]), flush=True)
    return rows


def _pin_threads(cores: frozenset[int]) -> None:
    """Every thread of this process (the fake Bot API's server too) on ``cores``."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cores)
        except OSError:  # the thread has ended meanwhile
            pass


def _measure(topology: str, levels: list[int], rounds: int, path_names: list[str],
             in_turn: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Start one topology, run the levels on it, stop it: its rows and a /metrics sample."""
    fake = FakeTelegram().start()
    replicas = 2 if topology == "replicas" else 1
    with tempfile.TemporaryDirectory(prefix="hotline-load-") as tmp:
        # Every simulated enterprise comes from 127.0.0.1: lift the per-address flood limits.
        stack = start_stack(Path(tmp), fake, replicas=replicas,
                            HOTLINE_WEB_IP_MSGS_PER_MIN="1000000",
                            HOTLINE_WEB_SESSION_MSGS_PER_MIN="1000")
        own_cores = cpus.available()
        # This generator stands for the enterprises' phones: off the Rasa servers' cores
        # (where the other services run), not taking Rasa's core from it.
        loadgen_cores = stack.cores_of("loadgen")
        if loadgen_cores:
            _pin_threads(loadgen_cores)
        try:
            paths = Paths(stack, fake)
            print(f"-- {topology} topology ({replicas} of each: gateway, Rasa, action server)"
                  f"; load generator on cores {sorted(loadgen_cores or own_cores)}", flush=True)
            first = asyncio.run(_first_chats(paths))
            print("first chat after the start, ms a message: " + "  ".join(
                f"{name} {' '.join(f'{x * 1000:.0f}' for x in values)}"
                for name, values in first.items()), flush=True)
            rows = asyncio.run(_run(levels, rounds, path_names, paths, in_turn))
            for row in rows:
                row["topology"] = topology
            metrics = httpx.get(f"{paths.gateway}/metrics", timeout=30).text
            sample = [line for line in metrics.splitlines()
                      if line.startswith(("hotline_messages_in_total", "hotline_reply_seconds_count",
                                          "hotline_reply_seconds_sum", "hotline_rasa_failures",
                                          "hotline_queue_length", "hotline_up"))]
            print("/metrics sample:\n  " + "\n  ".join(sample), flush=True)
        finally:
            if own_cores:  # the next topology's services may use every core again
                _pin_threads(frozenset(own_cores))
            stack.stop()
            fake.stop()
    return rows, sample


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,8,32,64")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--paths", default="raw,web,telegram")
    parser.add_argument("--in-turn", type=int, default=3,
                        help="chats each simulated enterprise holds one after another in a "
                             "round (default 3): the level's chats stay open at once for most "
                             "of the round, and a new chat's start overlaps the others' "
                             "messages; 1: all chats of a round start and end together")
    parser.add_argument("--topologies", default="single",
                        help="single, replicas (2 of each behind HAProxy, PostgreSQL), or both "
                             "comma-separated: measured one after the other in this run")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x]
    path_names = [p for p in args.paths.split(",") if p]
    topologies = [t for t in args.topologies.split(",") if t]
    rows: list[dict[str, Any]] = []
    for topology in topologies:
        rows += _measure(topology, levels, args.rounds, path_names, args.in_turn)[0]
    scaling = []
    if {"single", "replicas"} <= set(topologies):
        by = {(r["topology"], r["chats"], r["path"]): r for r in rows}
        print("-- replicas ÷ single (throughput, p95)")
        for chats in levels:
            for name in path_names:
                one, two = by[("single", chats, name)], by[("replicas", chats, name)]
                ratio = {"chats": chats, "path": name,
                         "throughput_x": round(two["throughput_msg_s"] / one["throughput_msg_s"], 2)
                         if one["throughput_msg_s"] else None,
                         "p95_x": round(two["p95_ms"] / one["p95_ms"], 2) if one["p95_ms"] else None}
                scaling.append(ratio)
                print(f"{chats:>4} chats  {name:<8} throughput ×{ratio['throughput_x']}"
                      f"  p95 ×{ratio['p95_x']}", flush=True)
    print(json.dumps({"rows": rows, "scaling": scaling}, ensure_ascii=False))
    return 0


async def _first_chats(paths: Paths) -> dict[str, list[float]]:
    """One chat down each path first, its reply times kept and printed: what the first
    enterprise after a start waits (the services warm themselves before they are ready).
    Not counted in the rows: it also opens this generator's connections."""
    first: dict[str, list[float]] = {}
    async with aiohttp.ClientSession() as client:
        for name in ("raw", "web"):
            first[name] = []
            await getattr(paths, name)(client, first[name])
    return first


if __name__ == "__main__":
    raise SystemExit(main())
