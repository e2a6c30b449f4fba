"""``hotline run``: the whole product on embedded defaults, until Ctrl-C. A service that
crashes is restarted with backoff (``hotline.local.supervise``); one that keeps crashing
stops all."""

from __future__ import annotations

import argparse
import secrets
import signal
import sys
import threading

from hotline.local.replicas import ReplicaStack
from hotline.local.stack import Ports, Stack, StackError
from hotline.local.supervise import supervise
from hotline.settings import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("run", help="run Redis, Rasa, the action server and the gateway")
    parser.add_argument(
        "--replicas", type=int, default=1, metavar="N",
        help="N Rasa servers, action servers and gateways behind HAProxy, on a local "
             "PostgreSQL unless HOTLINE_DATABASE_URL names one (default 1: one of each, "
             "no balancer)")
    parser.set_defaults(func=run)


def first_admin(db_url: str) -> str | None:
    """On a database with no console account, create ``admin`` with a random password
    (printed once), so the console of a fresh install can be opened at all."""
    from sqlalchemy import func, select

    from hotline.db import session_scope
    from hotline.models import Staff
    from hotline.staff import create_staff

    with session_scope(db_url) as session:
        if session.scalar(select(func.count()).select_from(Staff)):
            return None
        password = "Hl-" + secrets.token_urlsafe(12)
        create_staff(session, "admin", "系统管理员", password, "admin")
        return password


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    replicas = getattr(args, "replicas", 1)
    if replicas < 1:
        print("error: --replicas needs a count of at least 1", file=sys.stderr)
        return 2
    stack: Stack
    if replicas > 1:
        stack = ReplicaStack(var_dir=settings.var_dir, ports=Ports.from_env(),
                             redis_url=settings.redis_url, count=replicas)
    else:
        stack = Stack(var_dir=settings.var_dir, ports=Ports.from_env(),
                      redis_url=settings.redis_url)
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
    print(f"控制台 (console):    {url}console/", flush=True)
    if isinstance(stack, ReplicaStack):
        print(f"负载均衡 (HAProxy statistics): http://127.0.0.1:{stack.stats_port}/ · "
              f"{replicas} gateways, {replicas} Rasa servers, {replicas} action servers",
              flush=True)
    first = first_admin(stack.env().get("HOTLINE_DATABASE_URL") or settings.db_url())
    if first is not None:
        print(f"  首个管理员账号已创建：admin / {first}（请登录后在“我的账号”中修改密码）", flush=True)
    print(f"人工服务时间 (office hours): {settings.office_hours} (HOTLINE_OFFICE_HOURS)", flush=True)
    if settings.telegram_token:
        print(f"Telegram: {settings.telegram_mode} is on for the bot of TELEGRAM_TOKEN", flush=True)
    else:
        print("Telegram: off (set TELEGRAM_TOKEN to poll the Bot API)", flush=True)
    print(f"logs: {settings.var_dir / 'logs'} · crashed services are restarted · "
          "Ctrl-C stops everything", flush=True)
    try:
        return supervise(list(stack.services), stack.respawn, stop, log=_log)
    finally:
        print("stopping …", flush=True)
        stack.stop()
        print("stopped.", flush=True)


def _log(line: str) -> None:
    print(line, file=sys.stderr if line.startswith(("error:", "warning:")) else sys.stdout,
          flush=True)
