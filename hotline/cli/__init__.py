"""The ``hotline`` command: ``python -m hotline <group> <command> …``.

Each group of commands is a module with ``register(subparsers)``: the ones of the core live in
this package (``hotline.cli.db``, ``hotline.cli.tickets`` …); the knowledge base and the hot
topics keep theirs beside their code (``hotline.kb.cli``, ``hotline.hot.cli``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that provide ``register(subparsers: argparse._SubParsersAction) -> None``.
GROUPS: tuple[str, ...] = (
    "hotline.cli.run",
    "hotline.cli.db",
    "hotline.cli.nlu",
    "hotline.kb.cli",
    "hotline.cli.tickets",
    "hotline.cli.staff",
    "hotline.cli.transcripts",
    "hotline.cli.outbox",
    "hotline.hot.cli",
    "hotline.cli.replies",
    "hotline.cli.report",
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
