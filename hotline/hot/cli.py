"""``hotline hot …``: hot issues (热点问题) from the command line.

    python -m hotline hot eval                 # the labelled set: dev and held-out figures, last line JSON
    python -m hotline hot list [--all] [--json]
    python -m hotline hot backfill             # group tickets filed before hot issues existed
"""

from __future__ import annotations

import argparse
import json

from hotline.db import session_scope


def _eval(args: argparse.Namespace) -> int:
    from hotline.hot import evaluate

    return evaluate.main()


def _list(args: argparse.Namespace) -> int:
    from hotline import sla
    from hotline.hot import service

    with session_scope() as session:
        views = service.list_issues(session) if args.all else service.active_issues(session)
    if args.json:
        print(json.dumps([{
            "id": v.id, "title": v.title, "state": v.state, "tickets": v.tickets,
            "enterprises": v.enterprises, "districts": dict(v.districts),
            "departments": dict(v.departments), "raised_at": v.raised_at.isoformat(),
            "supervise_deadline": v.supervise_deadline.isoformat() if v.supervise_deadline else None,
        } for v in views], ensure_ascii=False, indent=2))
        return 0
    if not views:
        print("当前没有热点问题。")
    for v in views:
        places = "、".join(name for name, _ in v.districts[:3]) or "—"
        print(f"#{v.id} [{v.state_zh}] {v.title}：{v.tickets}件、{v.enterprises}家企业，"
              f"涉及{places}，发现于{sla.as_local(v.raised_at):%Y-%m-%d %H:%M}")
    return 0


def _backfill(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from hotline.hot import service
    from hotline.models import HotDoc, Ticket

    done = raised = 0
    with session_scope() as session:
        grouped = select(HotDoc.ticket_id).where(HotDoc.ticket_id.is_not(None))
        for ticket in session.scalars(select(Ticket).where(Ticket.id.not_in(grouped))
                                      .order_by(Ticket.created_at, Ticket.id)):
            joined = service.on_ticket(session, ticket)
            done += 1
            raised += bool(joined and joined.raised)
    print(f"已归类工单{done}件，新发现热点{raised}个。")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("hot", help="热点问题：评测、列表、补归类")
    commands = group.add_subparsers(dest="hot_command", required=True)
    commands.add_parser("eval", help="在标注集上评测热点归类（最后一行为 JSON）").set_defaults(func=_eval)
    listing = commands.add_parser("list", help="列出热点问题（默认未关闭的）")
    listing.add_argument("--all", action="store_true", help="包括已关闭的")
    listing.add_argument("--json", action="store_true", help="输出 JSON")
    listing.set_defaults(func=_list)
    commands.add_parser("backfill", help="把尚未归类的历史工单按受理时间归类").set_defaults(
        func=_backfill)

