"""``hotline db …``: schema migrations."""

from __future__ import annotations

import argparse

from alembic import command
from alembic.config import Config

from hotline.settings import ROOT, get_settings


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "hotline" / "migrations"))
    config.attributes["url"] = url or get_settings().db_url()
    return config


def upgrade(url: str | None = None) -> None:
    command.upgrade(alembic_config(url), "head")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations up to head")
    up.set_defaults(func=lambda _a: upgrade())
