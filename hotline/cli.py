"""The ``hotline`` command: ``python -m hotline <group> <command> …``.

Each feature module contributes a sub-command group through ``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that provide ``register(subparsers: argparse._SubParsersAction) -> None``.
GROUPS: tuple[str, ...] = (
    "hotline.run_cli",
    "hotline.db_cli",
    "hotline.nlu_cli",
    "hotline.kb.cli",
    "hotline.tickets_cli",
    "hotline.staff_cli",
    "hotline.transcripts_cli",
    "hotline.outbox_cli",
    "hotline.hot.cli",
    "hotline.replies_cli",
    "hotline.report_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="企业服务热线 command line")
    sub = parser.add_subparsers(dest="group", required=True)
    for name in GROUPS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
