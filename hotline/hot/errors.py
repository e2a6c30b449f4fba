"""The refusals of hot-issue steps, and the clock they share (split from :mod:`hotline.hot.service`)."""

from __future__ import annotations

from datetime import datetime, timezone


class HotIssueError(Exception):
    """A refused step; ``message`` is Chinese, fit to show to supervisors."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class HotIssueNotFound(HotIssueError, LookupError):
    pass


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)

