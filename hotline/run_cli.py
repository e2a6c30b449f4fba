"""``hotline run``: the whole product on embedded defaults, until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from hotline.settings import get_settings
from hotline.stack import Ports, Stack, StackError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("run", help="run Redis, Rasa, the action server and the gateway")
    parser.set_defaults(func=run)


def run(_args: argparse.Namespace) -> int:
    settings = get_settings()
    stack = Stack(var_dir=settings.var_dir, ports=Ports.from_env(), redis_url=settings.redis_url)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print("启动企业服务热线 (starting; Rasa needs about a minute to load its model) …", flush=True)
    try:
        stack.start(log=lambda line: print(line, flush=True))
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    url = f"http://127.0.0.1:{stack.ports.gateway}/"
    print(f"\n网页聊天 (web chat): {url}", flush=True)
    if settings.telegram_token:
        print(f"Telegram: {settings.telegram_mode} is on for the bot of TELEGRAM_TOKEN", flush=True)
    else:
        print("Telegram: off (set TELEGRAM_TOKEN to poll the Bot API)", flush=True)
    print(f"logs: {settings.var_dir / 'logs'} · Ctrl-C stops everything", flush=True)
    try:
        while not stop.wait(1.0):
            for service in stack.services:
                if service.process is not None and service.process.poll() is not None:
                    print(f"error: {service.name} stopped unexpectedly, see {service.log_path}",
                          file=sys.stderr)
                    return 1
    finally:
        print("stopping …", flush=True)
        stack.stop()
        print("stopped.", flush=True)
    return 0
