"""``hotline replies …``: the reply check (答复质量检查) from the command line.

    python -m hotline replies eval                              # labelled set, last line JSON
    python -m hotline replies check --request "…" --reply "…"   # the warnings of one reply
"""

from __future__ import annotations

import argparse
import json


def _eval(args: argparse.Namespace) -> int:
    from hotline import reply_check_eval

    return reply_check_eval.main()


def _check(args: argparse.Namespace) -> int:
    from hotline import reply_check

    review = reply_check.check(args.request, args.reply)
    if args.json:
        print(json.dumps({"warnings": review.codes, "key_terms": list(review.key_terms),
                          "missing_terms": list(review.missing_terms)}, ensure_ascii=False))
        return 0
    if review.ok:
        print("未发现问题。")
    for finding in review.findings:
        print(f"⚠ {finding.title}：{finding.message}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("replies", help="答复质量检查：评测、检查一条答复")
    commands = group.add_subparsers(dest="replies_command", required=True)
    commands.add_parser("eval", help="在标注集上评测答复检查（最后一行为 JSON）").set_defaults(
        func=_eval)
    one = commands.add_parser("check", help="检查一条答复")
    one.add_argument("--request", required=True, help="企业诉求内容")
    one.add_argument("--reply", required=True, help="部门答复内容")
    one.add_argument("--json", action="store_true", help="输出 JSON")
    one.set_defaults(func=_check)
