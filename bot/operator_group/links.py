"""Which group message belongs to which conversation, and the rest the group keeps in Redis.

A conversation is named in the group (and in its 接入 button, :func:`take_data`) by its
:func:`public_ref`. Every key is ``hotline:opgroup:<group chat id>:<kind>:…``
(:func:`hotline.redis_keys.opgroup`) and lives :data:`KEY_TTL_S`:

- ``msg:<message id>`` → conversation: a reply to that message reaches the enterprise;
- ``thread:<conversation>`` → the thread message a group operator's chat hangs under;
- ``ann:<conversation>`` → the queued announcement (id and HTML), edited when it settles;
- ``seen:<conversation>`` → the last transcript id shown in the group;
- ``ref:<pseudonym>`` → a web chat behind its :func:`public_ref`;
- ``done:<stream entry id>`` → a handoff transition one gateway has acted on already;
- ``fwd:<conversation>`` → a lock held by the gateway forwarding the chat's new messages.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.lock import Lock

from bot import tg_io
from bot.logsafe import pseudonym
from hotline import channels, redis_keys

KEY_TTL_S = 30 * 86400  # how long a group message stays linked to its conversation
FORWARD_LOCK_S = 60  # a forwarding gateway that dies frees the chat after this long
TAKE_PREFIX = "opg:take:"  # callback data of the 接入 button: opg:take:<conversation>


def public_ref(conversation: str) -> str:
    """How the group names a conversation: a web chat's session id is the page's secret
    (whoever knows it reads the chat), so the group sees its pseudonym; a Telegram chat
    keeps its id."""
    return pseudonym(conversation) if channels.channel_of(conversation) is channels.WEB else conversation


def take_data(conversation: str) -> str:
    return tg_io.checked_callback(TAKE_PREFIX + public_ref(conversation))


def decoded(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Links:
    """The operators' group's bookkeeping in Redis (see the module docstring)."""

    def __init__(self, redis: Redis, chat_id: int) -> None:
        self._redis = redis
        self._chat_id = chat_id

    def _key(self, *parts: object) -> str:
        return redis_keys.opgroup(self._chat_id, *parts)

    async def link(self, message_id: int, conversation: str) -> None:
        await self._redis.set(self._key("msg", message_id), conversation, ex=KEY_TTL_S)

    async def conversation_of(self, message_id: int) -> str | None:
        raw = await self._redis.get(self._key("msg", message_id))
        return decoded(raw) if raw else None

    async def remember_ref(self, conversation: str) -> None:
        """Make the :func:`public_ref` of a web chat resolvable by :meth:`conversation_named`."""
        ref = public_ref(conversation)
        if ref != conversation:
            await self._redis.set(self._key("ref", ref), conversation, ex=KEY_TTL_S)

    async def conversation_named(self, ref: str) -> str | None:
        """The conversation behind a :func:`public_ref` (None when forgotten)."""
        if channels.channel_of(ref) is channels.WEB:
            raw = await self._redis.get(self._key("ref", ref))
            return raw.decode() if raw else None
        return ref

    async def save_announcement(self, conversation: str, message_id: int, text: str) -> None:
        await self._redis.set(self._key("ann", conversation),
                              json.dumps({"id": message_id, "html": text}), ex=KEY_TTL_S)

    async def pop_announcement(self, conversation: str) -> dict[str, Any] | None:
        """``{"id": message id, "html": text}`` of the queued announcement, forgotten now."""
        raw = await self._redis.getdel(self._key("ann", conversation))
        return json.loads(raw) if raw else None

    async def thread_of(self, conversation: str) -> int | None:
        raw = await self._redis.get(self._key("thread", conversation))
        return int(raw) if raw else None

    async def open_thread(self, conversation: str, message_id: int) -> None:
        await self._redis.set(self._key("thread", conversation), message_id, ex=KEY_TTL_S)

    async def end_thread(self, conversation: str) -> None:
        await self._redis.delete(self._key("thread", conversation),
                                 self._key("seen", conversation))

    async def seen(self, conversation: str) -> int:
        return int(await self._redis.get(self._key("seen", conversation)) or 0)

    async def mark_seen(self, conversation: str, transcript_id: int, *,
                        keep: bool = False) -> None:
        """Shown up to ``transcript_id``; with ``keep`` only when there is no mark yet."""
        await self._redis.set(self._key("seen", conversation), transcript_id, ex=KEY_TTL_S,
                              nx=keep)

    def forwarding(self, conversation: str) -> Lock:
        """Held while one gateway forwards a chat's new messages: every gateway follows the
        live stream, and two reading the same "seen" mark would post a message twice. The
        other waits, then forwards what is still new (nothing, or a message written since)."""
        return self._redis.lock(self._key("fwd", conversation), timeout=FORWARD_LOCK_S,
                                blocking_timeout=FORWARD_LOCK_S)

    async def first_to_act(self, entry_id: str) -> bool:
        """Two gateways follow the same stream: only one of them acts on each transition."""
        return bool(await self._redis.set(self._key("done", entry_id), b"1", nx=True,
                                          ex=tg_io.DEDUPE_TTL_S))
