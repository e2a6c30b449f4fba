"""Argument types shared by command groups: a local day and an instant with its zone."""

from __future__ import annotations

import argparse
from datetime import date, datetime


def local_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期格式应为 YYYY-MM-DD：{text}") from None


def instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"时间格式应为 ISO 8601：{text}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("请带上时区，例如 2026-12-31T18:00:00+08:00")
    return moment
