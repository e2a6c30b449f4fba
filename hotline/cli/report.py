"""``hotline report …``: the periodic report (定期通报) as HTML and PDF files, for a scheduler.

    python -m hotline report make --period week|month [--date 2026-06-01] [--department 税务局]
                                  [--all-departments] [--out var/reports] [--as-of …]

Without ``--date`` the latest *complete* week or month is reported (what a Monday-morning
or first-of-the-month cron job wants). Files are named
``report-<week|month>-<first>-<last>-<all|dept<id>>.{html,pdf}``; the paths are printed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from hotline.cli.arguments import instant, local_date
from hotline.db import session_scope


def _department(session, value: str) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from hotline.models import Department

    if value.isdigit() and session.get(Department, int(value)) is not None:
        return int(value)
    found = session.scalar(select(Department.id).where(Department.name == value))
    if found is None:
        raise LookupError(value)
    return found


def _make(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from hotline import report, sla
    from hotline.models import Department, Ticket

    now = args.as_of or datetime.now(timezone.utc)
    today = sla.as_local(now).date()
    period = (report.period_of(args.period, args.date) if args.date
              else report.last_complete(args.period, today))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with session_scope() as session:
        scopes: list[int | None] = [None]
        if args.department:
            try:
                scopes = [_department(session, args.department)]
            except LookupError:
                print(f"承办部门不存在：{args.department}", file=sys.stderr)
                return 2
        elif args.all_departments:
            used = session.scalars(select(Ticket.department_id).distinct()).all()
            scopes += [d for d in session.scalars(select(Department.id).order_by(Department.id))
                       if d in used]
        for scope in scopes:
            r = report.build(session, args.period, period.first, department_id=scope, now=now)
            for ext in args.formats.split(","):
                path = out / report.filename(r, ext)
                if ext == "html":
                    path.write_text(report.render_html(r), encoding="utf-8")
                elif ext == "pdf":
                    path.write_bytes(report.render_pdf(r))
                else:
                    print(f"未知的格式：{ext}（html 或 pdf）", file=sys.stderr)
                    return 2
                written.append(path)
    for path in written:
        print(path)
    print(f"{period.label}：已生成{len(written)}个文件。", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("report", help="定期通报：周报、月报（HTML 与 PDF）")
    commands = group.add_subparsers(dest="report_command", required=True)
    make = commands.add_parser("make", help="生成通报文件")
    make.add_argument("--period", choices=("week", "month"), required=True, help="周报或月报")
    make.add_argument("--date", type=local_date, help="该日期所在的周或月（默认：最近一个完整周期）")
    who = make.add_mutually_exclusive_group()
    who.add_argument("--department", help="只生成该承办部门的通报（名称或编号）")
    who.add_argument("--all-departments", action="store_true",
                     help="生成总体通报和每个承办部门的通报")
    make.add_argument("--out", default="var/reports", help="输出目录（默认 var/reports）")
    make.add_argument("--formats", default="html,pdf", help="html,pdf（默认两种都生成）")
    make.add_argument("--as-of", dest="as_of", type=instant, help="统计时刻（默认现在）")
    make.set_defaults(func=_make)
