"""Operators' pages: the queue, my chats, one chat (history, reply, ticket, hand back, close),
files, and live updates over server-sent events."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import redis
import yaml
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from console import chat_service as svc
from console.auth import Actor, Forbidden, session_alive
from console.context import ConsoleContext
from console.deps import CHAT_STAFF, SUPERVISORS, Ctx, CurrentActor, Db, allowed, role
from console.web import render
from hotline import attachments, handoff, live, routing
from hotline import operator_chat as ops
from hotline.db import session_scope
from hotline.enterprises import card_for
from hotline.handoff import Mode
from hotline.models import TicketStatus

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/console")
RELEASERS = SUPERVISORS  # may free a chat from its operator
ChatStaff = Annotated[Actor, role(*CHAT_STAFF)]
ChatPost = Annotated[Actor, role(*CHAT_STAFF, write=True)]
ReleasePost = Annotated[Actor, role(*RELEASERS, message="只有督办人员和管理员可以强制释放会话。",
                                    write=True)]
CANNED = Path(__file__).with_name("canned_replies.yml")
SSE_BLOCK_MS = 4_000  # below redis-py's default socket timeout; a keep-alive after each


def _canned() -> list[str]:
    return [str(x) for x in yaml.safe_load(CANNED.read_text(encoding="utf-8")) or []]


def _conversation(conversation: str) -> str:
    if not svc.valid_conversation(conversation):
        raise Forbidden("会话编号无效。")
    return conversation


def stream_position(r: redis.Redis) -> str:
    """``"<live id>,<handoff id>"``: where a page's live updates start (nothing is missed
    between rendering the page and its event stream connecting)."""
    ids = []
    for key in (live.STREAM, handoff.EVENTS_KEY):
        last = r.xrevrange(key, count=1)
        ids.append(last[0][0].decode() if last else "0-0")
    return ",".join(ids)


def _since(raw: str | None) -> dict[str, str]:
    ids = {live.STREAM: "$", handoff.EVENTS_KEY: "$"}
    parts = (raw or "").split(",")
    if len(parts) == 2 and all(re.fullmatch(r"\d{1,20}-\d{1,20}", p) for p in parts):
        ids = {live.STREAM: parts[0], handoff.EVENTS_KEY: parts[1]}
    return ids


def _queue_context(ctx: ConsoleContext, db: Session, actor: Actor) -> dict[str, object]:
    since = stream_position(ctx.redis)
    entries = handoff.queue(ctx.redis)
    mine = handoff.owned_by(ctx.redis, actor.username)
    queued = svc.summaries(db, ctx.redis, [e.conversation for e in entries])
    owned = svc.summaries(db, ctx.redis, mine)
    skip = {e.conversation for e in entries} | set(mine)
    recent = svc.summaries(db, ctx.redis, [
        c for c in svc.recent_conversations(db, 30) if c not in skip][:15])
    on_duty = svc.workload(db, ctx.redis)
    return {"queued": queued, "mine": owned, "recent": recent, "since": since,
            "workload": on_duty,
            "label_of": svc.label_of}


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, ctx: Ctx, db: Db, actor: ChatStaff) -> Response:
    return render(request, "queue.html", actor, title="会话", **_queue_context(ctx, db, actor))


@router.get("/queue/lists", response_class=HTMLResponse)
def queue_lists(request: Request, ctx: Ctx, db: Db, actor: ChatStaff) -> Response:
    return render(request, "queue_lists.html", actor, **_queue_context(ctx, db, actor))


def _chat_context(ctx: ConsoleContext, db: Session, actor: Actor,
                  conversation: str) -> dict[str, object]:
    since = stream_position(ctx.redis)
    state = handoff.state_of(ctx.redis, conversation)
    history = svc.lines(db, conversation)
    waiting = svc.pending(db, conversation)
    draft = ops.draft_for(db, conversation)
    card = card_for(db, conversation)
    panel = svc.identity_panel(db, conversation)
    its_tickets = [(t.number, t.topic, TicketStatus(t.status).zh, t.deadline)
                   for t in svc.open_tickets_of(db, conversation)]
    names = svc.display_names(db)
    taxonomy = routing.load_taxonomy()
    return {
        "conversation": conversation, "state": state, "mode_zh": svc.MODE_ZH[state.mode],
        "reason_zh": svc.REASON_ZH.get(state.reason or "", ""),
        "owner_name": names.get(state.operator or "", state.operator or ""),
        "mine": state.mode is Mode.HUMAN and state.operator == actor.username,
        "can_release": allowed(actor, RELEASERS) and state.mode in (Mode.QUEUED, Mode.HUMAN),
        "history": history, "pending": waiting, "draft": draft, "card": card, "panel": panel,
        "tickets": its_tickets, "canned": _canned(),
        "topics": [(name, t.zh) for name, t in taxonomy.topics.items()],
        "topic_zh": {name: t.zh for name, t in taxonomy.topics.items()},
        "present": svc.present(ctx.redis, conversation),
        "channel_zh": svc.CHANNEL_ZH.get(svc.channel_of(conversation), ""),
        "last_id": history[-1].id if history else 0, "error": None,
        "max_mb": ctx.settings.attachment_max_mb, "since": since,
        "label": svc.label_of(conversation),
    }


def _chat_page(request: Request, ctx: ConsoleContext, db: Session, actor: Actor,
               conversation: str, *, status_code: int = 200, flash: str | None = None,
               error: str | None = None) -> Response:
    context = _chat_context(ctx, db, actor, conversation)
    context["error"] = error
    return render(request, "chat.html", actor, status_code=status_code, title="会话详情",
                  flash=flash, **context)


# Success banners: the redirect after an action carries one of these codes, never text.
DONE = {
    "taken": "已接入该会话。",
    "sent": "已发送。",
    "handback": "已交回智能客服。",
    "closed": "会话已结束。",
    "verified": "已核验企业身份。",
    "revoked": "已撤销企业身份核验。",
    "approved": "已采纳变更。",
    "rejected": "已驳回变更。",
    "released": "已强制释放该会话，智能客服继续为企业服务，企业已收到通知。",
    "ticket": "工单 {number} 已登记并分派，受理回执已发给企业。",
}
TICKET_NUMBER = re.compile(r"^T\d{8}-\d{4,6}$")


def _after(request: Request, conversation: str, code: str, number: str | None = None) -> Response:
    assert code in DONE
    url = f"/console/chats/{quote(conversation, safe=':')}?done={code}"
    if number is not None:
        url += f"&number={quote(number)}"
    return RedirectResponse(url, status_code=303)


def _banner(db: Session, conversation: str, done: str | None, number: str | None) -> str | None:
    """The banner of a ``done`` code; a ticket's only if it is one of this chat's."""
    text = DONE.get(done or "")
    if text is None or done != "ticket":
        return text
    if not number or not TICKET_NUMBER.match(number):
        return None
    known = {t.number for t in svc.open_tickets_of(db, conversation)}
    return text.format(number=number) if number in known else None


@router.get("/chats/{conversation}", response_class=HTMLResponse)
def chat_page(request: Request, conversation: str, ctx: Ctx, db: Db, actor: ChatStaff,
              done: str | None = None, number: str | None = None) -> Response:
    conversation = _conversation(conversation)
    return _chat_page(request, ctx, db, actor, conversation,
                      flash=_banner(db, conversation, done, number))


@router.get("/chats/{conversation}/messages", response_class=HTMLResponse)
def chat_messages(request: Request, conversation: str, ctx: Ctx, db: Db, actor: ChatStaff,
                  after: int = 0) -> Response:
    """New lines after ``after`` plus the undelivered ones (for live refresh)."""
    conversation = _conversation(conversation)
    history = svc.lines(db, conversation, after_id=after)
    waiting = svc.pending(db, conversation)
    state = handoff.state_of(ctx.redis, conversation)
    response = render(request, "chat_messages.html", actor, history=history, pending=waiting)
    response.headers["X-Last-Id"] = str(history[-1].id if history else after)
    response.headers["X-Mode"] = state.mode.value
    return response


async def _act(request: Request, ctx: ConsoleContext, actor: Actor, conversation: str,
               action: Callable[[ops.OperatorChat, str], Awaitable[Any]], done: str) -> Response:
    """Run one operator action of :mod:`hotline.operator_chat` (with its effects)."""
    conversation = _conversation(conversation)
    try:
        result = await action(ctx.operator_chat, conversation)
    except ops.ChatError as exc:
        return await asyncio.to_thread(_refused_page, request, ctx, actor, conversation,
                                       str(exc))
    return _after(request, conversation, done, result if done == "ticket" else None)


@router.post("/chats/{conversation}/take")
async def take(request: Request, conversation: str, ctx: Ctx, actor: ChatPost) -> Response:
    return await _act(request, ctx, actor, conversation, lambda o, c: o.take(
        c, actor.username, actor.display_name), "taken")


@router.post("/chats/{conversation}/reply")
async def reply(request: Request, conversation: str, ctx: Ctx, actor: ChatPost,
                text: str = Form(""), file: UploadFile | None = File(None)) -> Response:
    max_bytes = ctx.settings.attachment_max_mb * 1024 * 1024
    upload = None
    if file is not None and file.filename:
        upload = (file.filename, file.content_type, await file.read(max_bytes + 1))
    return await _act(request, ctx, actor, conversation, lambda o, c: o.reply(
        c, actor.username, actor.display_name, text[:20000], upload), "sent")


@router.post("/chats/{conversation}/handback")
async def hand_back(request: Request, conversation: str, ctx: Ctx, actor: ChatPost) -> Response:
    return await _act(request, ctx, actor, conversation,
                      lambda o, c: o.hand_back(c, actor.username), "handback")


@router.post("/chats/{conversation}/close")
async def close(request: Request, conversation: str, ctx: Ctx, actor: ChatPost) -> Response:
    return await _act(request, ctx, actor, conversation,
                      lambda o, c: o.close(c, actor.username), "closed")


@router.post("/chats/{conversation}/release")
async def force_release(request: Request, conversation: str, ctx: Ctx,
                        actor: ReleasePost) -> Response:
    """Supervisor/admin: free a queued or human chat whose operator is gone; the bot resumes."""
    return await _act(request, ctx, actor, conversation,
                      lambda o, c: o.force_release(c, actor.username), "released")


@router.post("/chats/{conversation}/ticket")
async def open_ticket(request: Request, conversation: str, ctx: Ctx, actor: ChatPost,
                      topic: str = Form(""), description: str = Form(""), company: str = Form(""),
                      uscc: str = Form(""), contact: str = Form(""),
                      phone: str = Form("")) -> Response:
    draft = ops.TicketDraft(topic, description[:20000], company[:200], uscc[:40], contact[:50],
                            phone[:40])
    return await _act(request, ctx, actor, conversation,
                      lambda o, c: o.open_ticket(c, draft, actor.who), "ticket")


def _refused_page(request: Request, ctx: ConsoleContext, actor: Actor, conversation: str,
                  error: str) -> Response:
    """The chat again with why an operator action was refused (the actions are async and
    run in sessions of their own; so does this page, in a thread)."""
    with session_scope(ctx.db_url) as db:
        return _chat_page(request, ctx, db, actor, conversation, status_code=409, error=error)


def _identity_act(request: Request, ctx: ConsoleContext, db: Session, actor: Actor,
                  conversation: str, action: Callable[[Session], Any], done: str) -> Response:
    """Staff decide who the chat is (verification, proposed changes)."""
    conversation = _conversation(conversation)
    try:
        action(db)
        db.commit()
    except svc.ChatError as exc:
        db.rollback()
        return _chat_page(request, ctx, db, actor, conversation, status_code=409, error=str(exc))
    ctx.deliver(conversation)
    live.publish(ctx.redis, conversation, "console")
    return _after(request, conversation, done)


@router.post("/chats/{conversation}/verify")
def verify(request: Request, conversation: str, ctx: Ctx, db: Db, actor: ChatPost) -> Response:
    """Staff confirmed the chat's enterprise (by calling the contact on file)."""
    return _identity_act(request, ctx, db, actor, conversation, lambda s: svc.verify_identity(
        s, conversation, actor.who), "verified")


@router.post("/chats/{conversation}/revoke")
def revoke(request: Request, conversation: str, ctx: Ctx, db: Db, actor: ChatPost) -> Response:
    return _identity_act(request, ctx, db, actor, conversation, lambda s: svc.revoke_identity(
        s, conversation, actor.who), "revoked")


@router.post("/chats/{conversation}/changes/{change_id}")
def decide_change(request: Request, conversation: str, change_id: int, ctx: Ctx, db: Db,
                  actor: ChatPost, decision: str = Form("")) -> Response:
    approve = decision == "approve"
    return _identity_act(request, ctx, db, actor, conversation, lambda s: svc.decide_change(
        s, change_id, approve, actor.who), "approved" if approve else "rejected")


@router.get("/attachments/{attachment_id}")
def attachment(attachment_id: int, db: Db, actor: CurrentActor) -> Response:
    """A chat file, for chat staff; department staff only those of their tickets' chats.

    Anything else answers exactly like a missing file (ids are sequential)."""
    found = svc.attachment_for(db, attachment_id, every_chat=allowed(actor, CHAT_STAFF),
                               department_id=actor.department_id)
    if found is None:
        return Response("文件不存在或已过保存期限。", status_code=404,
                        media_type="text/plain; charset=utf-8")
    name, mime, data = found
    return Response(data, media_type=mime,
                    headers={"Content-Disposition": attachments.content_disposition(name, mime)})


@router.get("/events")
async def events(request: Request, ctx: Ctx, actor: ChatStaff,
                 since: str | None = None) -> Response:
    """Server-sent events: ``change`` with the conversation whenever a chat or its mode moves.

    The session is checked again before every read (at most ``SSE_BLOCK_MS`` apart): a
    logout, deactivation or password change ends the stream.

    Starts after ``since`` (the position the page was rendered at) or the browser's
    ``Last-Event-ID`` on a reconnect, so no change is missed in between.
    """
    ids = _since(request.headers.get("last-event-id") or since)

    async def stream():  # type: ignore[no-untyped-def]
        yield "retry: 3000\n\n"
        # ends when the client goes (Starlette cancels the response) or the session does
        while await session_alive(ctx, actor.token_hash):
            try:
                found = await ctx.aredis.xread(ids, block=SSE_BLOCK_MS, count=100)
            except (redis.TimeoutError, TimeoutError):  # the client's socket timeout
                found = None
            if not found:
                yield ": keep-alive\n\n"
                continue
            for key, entries in found:
                name = key.decode() if isinstance(key, bytes) else key
                for entry_id, fields in entries:
                    ids[name] = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    data = {k.decode(): v.decode() for k, v in fields.items()}
                    payload = {"conversation": data.get("conversation"),
                               "kind": data.get("kind") or data.get("to")}
                    position = f"{ids[live.STREAM]},{ids[handoff.EVENTS_KEY]}"
                    yield f"id: {position}\nevent: change\ndata: {json.dumps(payload)}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
