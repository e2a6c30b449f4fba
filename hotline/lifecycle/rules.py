"""What each step of a ticket may start from, and the Chinese refusals when it may not."""

from __future__ import annotations

from datetime import datetime, timezone

from hotline.models import Ticket, TicketStatus

S = TicketStatus

REPLY_MAX_CHARS = 3000
"""A department's written reply: long enough for a reasoned answer, short enough to reach
the enterprise in one Telegram message (4096) together with the ticket header."""

COMMENT_MAX_CHARS = 500
"""An enterprise's comment with its rating (stored raw; escape it when rendering HTML)."""


class LifecycleError(Exception):
    """Base of the lifecycle's refusals; ``message`` is Chinese, fit to show to people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidTransition(LifecycleError):
    """The ticket's current status does not allow this step (HTTP 409 in the console)."""


class AlreadyRated(InvalidTransition):
    """This resolution has been rated already (一事一评)."""


class InvalidInput(LifecycleError, ValueError):
    """The step is allowed but its input is not (empty reply, over-long comment …)."""


ALREADY_RATED = "您已评价过该工单，感谢您的反馈。"
NOT_RESOLVED_FOR_RATING = "工单尚未办结，暂不能评价。"
STALE_RATING = "这个评价按钮对应的是之前的办理结果，请对最新的办理答复进行评价。"

# What each step may start from.
ALLOWED_FROM: dict[str, frozenset[TicketStatus]] = {
    "dispatch": frozenset({S.RECEIVED, S.DISPATCHED, S.REOPENED}),
    "take": frozenset({S.DISPATCHED, S.REOPENED}),
    "resolve": frozenset({S.IN_PROGRESS}),
    "rate": frozenset({S.RESOLVED}),
    "reopen": frozenset({S.RESOLVED, S.RATED}),
}

# Refusals that deserve a specific explanation; the rest get a generic sentence.
_REFUSALS: dict[tuple[str, TicketStatus], str] = {
    ("take", S.IN_PROGRESS): "工单已签收，正在办理中，无需重复签收。",
    ("take", S.RECEIVED): "工单尚未分派到承办部门，暂不能签收。",
    ("resolve", S.DISPATCHED): "工单尚未签收，请先签收再填写答复办结。",
    ("resolve", S.REOPENED): "工单已转重办，请先签收再填写答复办结。",
    ("resolve", S.RECEIVED): "工单尚未分派到承办部门，暂不能办结。",
    ("dispatch", S.IN_PROGRESS): "工单已由承办部门签收办理，不能再改派。",
    ("rate", S.RATED): ALREADY_RATED,
}
_ACTION_ZH = {
    "dispatch": "分派",
    "take": "签收",
    "resolve": "办结",
    "rate": "评价",
    "reopen": "重办",
}


def refusal(action: str, ticket: Ticket) -> InvalidTransition:
    current = S(ticket.status)
    if action == "rate":
        return InvalidTransition(_REFUSALS.get((action, current), NOT_RESOLVED_FOR_RATING))
    if action == "reopen" and current not in (S.RESOLVED, S.RATED):
        return InvalidTransition(f"工单{ticket.number}尚未办结（当前：{current.zh}），不能申请重办。")
    specific = _REFUSALS.get((action, current))
    if specific:
        return InvalidTransition(specific)
    return InvalidTransition(
        f"工单{ticket.number}当前状态为“{current.zh}”，不能{_ACTION_ZH[action]}。"
    )


def checked_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now
