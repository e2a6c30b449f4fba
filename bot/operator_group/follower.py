"""Following the handoff events and the live stream: what the group is told, and when.

- a chat entering the queue (:data:`hotline.handoff.EVENTS_KEY`) is announced; leaving it
  settles the announcement; a group operator's chat leaving human mode ends its thread —
  each transition acted on by one gateway only, however many follow the stream;
- an enterprise message on the live stream (:data:`hotline.live.STREAM`) is forwarded to the
  thread of the chat's group owner, if it has one.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

from bot.operator_group.links import decoded
from bot.operator_group.posts import GroupPosts
from hotline import conversations, handoff, live
from hotline.handoff import Mode

logger = logging.getLogger(__name__)


class StreamFollower:
    def __init__(self, redis: Redis, posts: GroupPosts, *, block_ms: int = 5000) -> None:
        self._redis = redis
        self._posts = posts
        self._block_ms = block_ms
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> asyncio.Task[None]:
        """Follow from now on (XREAD from "$", resolved to concrete ids before returning, so
        nothing after start is missed)."""
        if self._task is None or self._task.done():
            ids = {handoff.EVENTS_KEY: await self._last_id(handoff.EVENTS_KEY),
                   live.STREAM: await self._last_id(live.STREAM)}
            self._task = asyncio.create_task(self._follow(ids), name="operator-group")
        return self._task

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001
            logger.exception("operator group follower ended with an error")
        self._task = None

    async def _last_id(self, stream: str) -> str:
        last = await self._redis.xrevrange(stream, count=1)
        return decoded(last[0][0]) if last else "0-0"

    async def _follow(self, ids: dict[str, str]) -> None:
        while True:
            try:
                found = await self._redis.xread(ids, block=self._block_ms, count=100)  # type: ignore[arg-type]
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis briefly away: try again
                logger.warning("operator group: reading the streams failed", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            for key, entries in found or []:
                stream = decoded(key)
                for entry_id, raw in entries:
                    ids[stream] = decoded(entry_id)
                    fields = {decoded(k): decoded(v) for k, v in raw.items()}
                    try:
                        await self._on_entry(stream, ids[stream], fields)
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # noqa: BLE001 - one bad entry must not stop the rest
                        logger.exception("operator group: %s entry %s failed", stream,
                                         ids[stream])

    async def _on_entry(self, stream: str, entry_id: str, fields: dict[str, str]) -> None:
        conversation = fields.get("conversation", "")
        if not conversations.valid_conversation(conversation):
            return
        if stream == live.STREAM:
            if fields.get("kind") == "message":
                await self._posts.forward_new(conversation)
            return
        if not await self._posts.links.first_to_act(entry_id):
            return
        before, after = fields.get("from", ""), fields.get("to", "")
        who, reason = fields.get("who", ""), fields.get("reason", "")
        if after == Mode.QUEUED:
            await self._posts.announce(conversation, reason)
        elif before == Mode.QUEUED:
            await self._posts.settle_announcement(conversation, after, who)
        if before == Mode.HUMAN and after != Mode.HUMAN:
            await self._posts.end_thread(conversation, after, who)
