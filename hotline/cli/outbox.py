"""``python -m hotline outbox requeue|purge``: send notifications that gave up again; apply
the retention of delivered ones."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from hotline import outbox
from hotline.db import session_scope
from hotline.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("outbox", help="notifications to enterprises (通知发件箱)")
    sub = parser.add_subparsers(dest="command", required=True)
    requeue = sub.add_parser(
        "requeue", help="send rows that reached the attempt limit again (attempts reset)")
    which = requeue.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, help="one row, by its id")
    which.add_argument("--all-failed", action="store_true", help="every failed row")
    requeue.set_defaults(func=cmd_requeue)
    purge = sub.add_parser("purge", help="delete delivered rows older than the retention")
    purge.add_argument("--days", type=int, default=None,
                       help="retention in days (default: HOTLINE_OUTBOX_RETENTION_DAYS)")
    purge.set_defaults(func=cmd_purge)


def cmd_requeue(args: argparse.Namespace) -> int:
    with session_scope(get_settings().db_url()) as session:
        count = outbox.requeue_failed(session, now=datetime.now(timezone.utc),
                                      row_id=None if args.all_failed else args.id)
    print(f"已重新排队发送失败的通知 {count} 条。")
    if args.id is not None and count == 0:
        print(f"通知 {args.id} 不存在或不是发送失败状态。")
        return 1
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    settings = get_settings()
    days = args.days if args.days is not None else settings.outbox_retention_days
    with session_scope(settings.db_url()) as session:
        count = outbox.purge_delivered(session, days)
    print(f"已删除 {days} 天前已送达的通知 {count} 条。")
    return 0
