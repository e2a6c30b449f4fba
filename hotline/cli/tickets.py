"""``hotline tickets …``: statistics reports and demo data.

    python -m hotline tickets stats --from 2026-01-01 --to 2026-12-31 [--by topic|department] [--json]
    python -m hotline tickets seed-demo [--count 300] [--seed 7]

Dates are local (Asia/Shanghai) days and ``--to`` is inclusive. Both commands use the
configured database (``HOTLINE_DATABASE_URL``, default SQLite under ``var/``).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timezone

from hotline.cli.arguments import instant, local_date
from hotline.db import session_scope


def _stats(args: argparse.Namespace) -> int:
    from hotline import sla, stats

    today = datetime.now(timezone.utc).astimezone(sla.TZ).date()
    first = args.date_from or date(today.year, 1, 1)
    last = args.date_to or today
    if last < first:
        print(f"结束日期 {last} 早于开始日期 {first}。", file=sys.stderr)
        return 2
    start, end = stats.period(first, last)
    with session_scope() as session:
        report = stats.compute(session, start, end, now=args.as_of, by=args.by)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(report.text())
    return 0


def _seed(args: argparse.Namespace) -> int:
    from hotline.local import seed

    if args.count < 0:
        print("--count 不能为负数。", file=sys.stderr)
        return 2
    with session_scope() as session:
        result = seed.seed_demo(session, count=args.count, seed=args.seed)
    print(
        f"演示数据（种子 {args.seed}）：部门{result.departments}个、企业{result.enterprises}家，"
        f"新增工单{result.created}件，已存在{result.skipped}件。"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("tickets", help="诉求工单：统计、演示数据")
    commands = group.add_subparsers(dest="tickets_command", required=True)

    report = commands.add_parser("stats", help="办理统计（按受理日期统计）")
    report.add_argument("--from", dest="date_from", type=local_date, help="开始日期（含），默认今年1月1日")
    report.add_argument("--to", dest="date_to", type=local_date, help="结束日期（含），默认今天")
    report.add_argument("--by", choices=("topic", "department"), help="按诉求类别或承办部门分组")
    report.add_argument("--as-of", dest="as_of", type=instant,
                        help="判断红灯（超期）的时刻，默认现在")
    report.add_argument("--json", action="store_true", help="输出 JSON")
    report.set_defaults(func=_stats)

    demo = commands.add_parser("seed-demo", help="生成演示数据（同一种子重复运行不会重复生成）")
    demo.add_argument("--count", type=int, default=300, help="工单数量（默认300）")
    demo.add_argument("--seed", type=int, default=7, help="随机种子（默认7）")
    demo.set_defaults(func=_seed)
