"""``python -m hotline transcripts purge``: apply the retention setting."""

from __future__ import annotations

import argparse

from hotline import transcripts
from hotline.db import session_scope
from hotline.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("transcripts", help="conversation transcripts")
    sub = parser.add_subparsers(dest="command", required=True)
    purge = sub.add_parser("purge", help="delete messages older than the retention")
    purge.add_argument("--days", type=int, default=None,
                       help="retention in days (default: HOTLINE_TRANSCRIPT_RETENTION_DAYS)")
    purge.set_defaults(func=cmd_purge)


def cmd_purge(args: argparse.Namespace) -> int:
    settings = get_settings()
    days = args.days if args.days is not None else settings.transcript_retention_days
    with session_scope(settings.db_url()) as session:
        count = transcripts.purge(session, days)
    print(f"已删除 {days} 天前的会话记录 {count} 条。")
    return 0
