"""Figures of the human service from the handoff events stream: how many chats asked for a
person, how many were taken or given up, and how long enterprises waited (queued → taken).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import redis

from hotline import handoff
from hotline.handoff import Mode


@dataclass(frozen=True)
class HandoffSummary:
    escalations: int  # bot → queued in the period
    taken: int  # queued → human
    cancelled: int  # queued → bot (the enterprise gave up waiting)
    waits_s: tuple[float, ...]  # queued → human, per taken chat

    @property
    def avg_wait_s(self) -> float | None:
        return sum(self.waits_s) / len(self.waits_s) if self.waits_s else None

    @property
    def p90_wait_s(self) -> float | None:
        if not self.waits_s:
            return None
        ordered = sorted(self.waits_s)
        return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def summary(r: redis.Redis, start: datetime, end: datetime) -> HandoffSummary:
    """Transitions whose time is in ``[start, end)``. Reads the stream from ``start`` (stream
    ids are milliseconds), so the cost grows with the period, not the stream's length."""
    first = f"{int(start.timestamp() * 1000)}-0"
    last = f"{int(end.timestamp() * 1000) - 1}-99999"
    queued_at: dict[str, datetime] = {}
    escalations = taken = cancelled = 0
    waits: list[float] = []
    for _id, raw in r.xrange(handoff.EVENTS_KEY, first, last):
        f = {k.decode(): v.decode() for k, v in raw.items()}
        conv, frm, to = f["conversation"], Mode(f["from"]), Mode(f["to"])
        at = datetime.fromtimestamp(float(f["at"]), tz=start.tzinfo)
        if to is Mode.QUEUED:
            escalations += 1
            queued_at[conv] = at
        elif frm is Mode.QUEUED and to is Mode.HUMAN:
            taken += 1
            if conv in queued_at:
                waits.append((at - queued_at.pop(conv)).total_seconds())
        elif frm is Mode.QUEUED:
            cancelled += 1
            queued_at.pop(conv, None)
    return HandoffSummary(escalations, taken, cancelled, tuple(waits))
