"""Announcing new hot issues (热点问题): console live update and the operators' group.

A hot issue is raised inside the transaction that creates a ticket (in the action server,
the console or a CLI), which has no business talking to Telegram. So the gateway looks
every few seconds for issues nobody has announced yet
(:func:`hotline.hot.service.claim_unannounced`: each is claimed once even with several
gateways), puts a ``hot_issue`` entry on the live stream (open dashboards refresh their
panel) and, when ``HOTLINE_OPERATOR_CHAT_ID`` is set, posts it in the operators' Telegram
group with a link to the console.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from hotline import live
from hotline.db import session_scope
from hotline.hot import service

logger = logging.getLogger(__name__)
EVERY_S = 10.0
LIVE_KIND = "hot_issue"

Post = Callable[[str], Awaitable[object]]  # send HTML text to the operators' group


def message(view: service.IssueView, public_url: str | None = None) -> str:
    """The operators' group post (HTML) for a new hot issue."""
    places = "、".join(f"{name}{n}件" for name, n in view.districts[:3]) or "未登记区域"
    depts = "、".join(name for name, _ in view.departments[:3]) or "待分派"
    lines = [
        f"🔥 <b>发现热点问题 #{view.id}</b>",
        html.escape(view.title, quote=False),
        f"{view.reporters}个来源（企业{view.enterprises}家）反映，共{view.tickets}件工单；{html.escape(places)}",
        f"承办部门：{html.escape(depts)}",
    ]
    if public_url:
        url = f"{public_url.rstrip('/')}/console/hot/{view.id}"
        lines.append(f'<a href="{html.escape(url)}">在控制台查看并处理</a>')
    return "\n".join(lines)


def _claim(db_url: str) -> list[service.IssueView]:
    with session_scope(db_url) as session:
        return service.claim_unannounced(session)


async def announce_once(db_url: str, redis: Redis, post: Post | None = None,
                        public_url: str | None = None) -> int:
    """Announce what is new; returns how many issues were announced."""
    views = await asyncio.to_thread(_claim, db_url)
    for view in views:
        try:
            await live.apublish(redis, f"hot:{view.id}", LIVE_KIND)
        except Exception:  # noqa: BLE001 - dashboards also show it on their next load
            logger.warning("hot issue %s: live update not published", view.id, exc_info=True)
        if post is not None:
            try:
                await post(message(view, public_url))
            except Exception:  # noqa: BLE001 - the console still shows it
                logger.exception("hot issue %s: operator group post failed", view.id)
    return len(views)


async def hot_issue_loop(db_url: str, redis: Redis, post: Post | None = None, *,
                         public_url: str | None = None, every_s: float = EVERY_S) -> None:
    """:func:`announce_once` every ``every_s`` seconds until cancelled."""
    while True:
        try:
            await announce_once(db_url, redis, post, public_url)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a busy database must not stop the gateway
            logger.exception("hot issue announcement pass failed; will retry")
        await asyncio.sleep(every_s)
