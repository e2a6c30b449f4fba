"""Notifications that gave up (发送失败的通知): supervisors and admins send them again.

- ``GET /console/notifications``: supervisors and admins (403 for other roles). The rows
  of the outbox (:mod:`hotline.outbox`) that reached the attempt limit, newest first:
  the chat masked (never a Telegram chat id or a web session id in full), the kind, the
  attempts, the last error and when it was written.
- ``POST /console/notifications/requeue`` (CSRF-checked; ``row=<id>`` or ``all=1``): the
  rows start again from scratch, due at once, like ``hotline outbox requeue``. The log
  line naming the account and the rows is the audit record. The gateway is asked to
  deliver them now rather than at its next poll.

The dashboard shows how many there are, with a link here.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.auth import Actor, Forbidden
from console.deps import SUPERVISORS, Ctx, Db, Now, role
from console.web import render
from hotline import outbox
from hotline.models import NotificationOutbox, OutboxStatus

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/console")

Reader = Annotated[Actor, role(*SUPERVISORS, message="发送失败的通知仅对督办人员和管理员开放。")]
Requeuer = Annotated[Actor, role(*SUPERVISORS, message="只有督办人员和管理员可以重新发送通知。",
                                 write=True)]
LIST_LIMIT = 200
ERROR_CHARS = 300
DONE = {"requeued": "已重新排队，通知将尽快重新发送。", "none": "没有可重新发送的通知。"}


def mask(conversation: str) -> str:
    """``Telegram 用户 98*****21`` / ``网页访客 #1a2b3c4d`` (a hash, not the session id)."""
    channel, _, ident = conversation.partition(":")
    if channel == "tg":
        shown = f"{ident[:2]}{'*' * (len(ident) - 4)}{ident[-2:]}" if len(ident) > 6 else "****"
        return f"Telegram 用户 {shown}"
    digest = hashlib.sha256(conversation.encode()).hexdigest()[:8]
    return f"网页访客 #{digest}" if channel == "web" else f"会话 #{digest}"


@dataclass(frozen=True)
class FailedRow:
    id: int
    chat: str
    kind: str
    attempts: int
    error: str
    created_at: datetime


def failed_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(NotificationOutbox).where(
        NotificationOutbox.status == OutboxStatus.FAILED.value)) or 0)


def failed_conversations(session: Session, row_id: int | None = None) -> list[str]:
    """The chats of the failed rows (of row ``row_id`` only, when given)."""
    query = select(NotificationOutbox.conversation_id).where(
        NotificationOutbox.status == OutboxStatus.FAILED.value)
    if row_id is not None:
        query = query.where(NotificationOutbox.id == row_id)
    return sorted(set(session.scalars(query)))


def _rows(session: Session) -> list[FailedRow]:
    return [FailedRow(id=r.id, chat=mask(r.conversation_id), kind=r.kind, attempts=r.attempts,
                      error=(r.last_error or "")[:ERROR_CHARS], created_at=r.created_at)
            for r in outbox.failed_rows(session, limit=LIST_LIMIT)]


@router.get("/notifications", response_class=HTMLResponse)
def notifications(request: Request, db: Db, actor: Reader) -> Response:
    return render(request, "notifications.html", actor, title="发送失败的通知", rows=_rows(db),
                  total=failed_count(db), flash=DONE.get(request.query_params.get("done", "")))


@router.post("/notifications/requeue")
async def requeue(request: Request, ctx: Ctx, db: Db, actor: Requeuer, now: Now) -> Response:
    form = await request.form()
    raw_row, every = str(form.get("row") or ""), form.get("all") == "1"
    if not every and not (raw_row.isdigit() and len(raw_row) < 19):
        raise Forbidden("请选择要重新发送的通知。")
    row_id = None if every else int(raw_row)
    conversations = failed_conversations(db, row_id)
    count = outbox.requeue_failed(db, now=now, row_id=row_id)
    db.commit()
    logger.info("outbox requeue by %s (%s): %s, %d rows", actor.username, actor.role.value,
                "all failed" if every else f"row {row_id}", count)
    for conversation in conversations:
        ctx.deliver(conversation)
    return RedirectResponse(f"/console/notifications?done={'requeued' if count else 'none'}",
                            status_code=303)
