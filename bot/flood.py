"""Flood control for the anonymous web chat: message rates per session and per address, a cap
on the chats one address keeps in the operators' queue, and an upload size enforced before
the body is read.

Counters are fixed one-minute windows in Redis (``INCR`` + ``EXPIRE``), shared by every
gateway process. With Redis down nothing is limited: the relay then answers "busy" anyway.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import redis as sync_redis
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import messages
from bot.logsafe import pseudonym
from hotline import handoff, redis_keys
from hotline.handoff import Mode

logger = logging.getLogger(__name__)
PREFIX = redis_keys.FLOOD
WINDOW_S = 60
QUEUED_TTL_S = 86400
MULTIPART_OVERHEAD = 64 * 1024  # an upload's form fields and boundaries around the file


@dataclass(frozen=True)
class Limits:
    session_per_min: int = 20
    ip_per_min: int = 120
    queued_per_ip: int = 5
    upload_max_bytes: int = 10 * 1024 * 1024


def file_mb(upload_max_bytes: int) -> int:
    """The file size an upload limit leaves, in whole MB (what the enterprise is told)."""
    return max(1, (upload_max_bytes - MULTIPART_OVERHEAD) // (1024 * 1024))


@dataclass(frozen=True)
class Admission:
    """A web message's rate check and its conversation's handoff mode, read together."""

    refusal: str | None  # what to answer instead when over a rate; None: go on
    mode: Mode | None  # the mode before the message is handled; None: Redis unavailable


async def admit(redis: Redis, limits: Limits, conversation: str, ip: str | None) -> Admission:
    """Count the message against its address's and its session's rates and read the
    conversation's mode, in one round trip (a pipeline, each ``INCR`` sent with its
    ``EXPIRE``). The address's rate is checked first; a refused message counts for both."""
    window = int(time.time() // WINDOW_S)
    keys = ([redis_keys.flood_ip(ip, window)] if ip else []) + [
        redis_keys.flood_session(conversation, window)]
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.incr(key)
                pipe.expire(key, WINDOW_S * 2)
            pipe.hget(handoff.state_key(conversation), "mode")
            *counted, raw_mode = await pipe.execute()
    except RedisError as exc:
        logger.warning("flood counters unavailable (Redis: %s): not limited", exc)
        return Admission(None, None)
    counts = [int(c) for c in counted[::2]]
    mode = handoff.mode_from(raw_mode)
    if ip and counts[0] > limits.ip_per_min:
        logger.warning("address over %d messages a minute (%s)", limits.ip_per_min,
                       pseudonym(conversation))
        return Admission(messages.FLOOD_ADDRESS, mode)
    if counts[-1] > limits.session_per_min:
        logger.warning("%s over %d messages a minute", pseudonym(conversation),
                       limits.session_per_min)
        return Admission(messages.FLOOD_SESSION, mode)
    return Admission(None, mode)


async def too_fast(redis: Redis, limits: Limits, conversation: str, ip: str | None) -> str | None:
    """The refusal to send when this message is over a rate, else None (and counted)."""
    return (await admit(redis, limits, conversation, ip)).refusal


def over_queue_cap(sync: sync_redis.Redis, limits: Limits, conversation: str, ip: str) -> bool:
    """The conversation has just joined the queue: True (and it leaves the queue again) when
    its address already has ``queued_per_ip`` other chats waiting there."""
    key = redis_keys.flood_queued(ip)
    others = [m.decode() for m in sync.smembers(key) if m.decode() != conversation]
    waiting = [c for c in others if handoff.mode_of(sync, c) is Mode.QUEUED]
    gone = set(others) - set(waiting)
    if gone:
        sync.srem(key, *gone)
    if len(waiting) >= limits.queued_per_ip:
        try:
            handoff.cancel(sync, conversation, who="system:flood")
        except handoff.InvalidHandoff:
            pass  # taken or cancelled meanwhile
        logger.warning("%s not queued: its address has %d chats waiting",
                       pseudonym(conversation), len(waiting))
        return True
    sync.sadd(key, conversation)
    sync.expire(key, QUEUED_TTL_S)
    return False


async def check_queue_cap(sync: sync_redis.Redis, limits: Limits, conversation: str,
                          ip: str | None) -> bool:
    if not ip:
        return False
    try:
        return await asyncio.to_thread(over_queue_cap, sync, limits, conversation, ip)
    except RedisError as exc:
        logger.warning("queue cap not checked (Redis: %s)", exc)
        return False


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class UploadLimit:
    """ASGI middleware: a request to ``path_prefix`` whose body is over ``max_bytes`` gets
    413 before the application parses (and spools) the form.

    A Content-Length far over the limit is refused at once, without reading the body. A body
    that turns out too big as it comes is read on and discarded up to ``DRAIN_FACTOR`` times
    the limit, so the client, still sending, can read the answer; beyond that the connection
    is closed. Nothing over the limit is ever kept.
    """

    DRAIN_FACTOR = 4

    def __init__(self, app: Any, *, max_bytes: int, path_prefix: str = "/chat/upload/") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_prefix = path_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.path_prefix):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (
                not declared.isdigit() or int(declared) > self.max_bytes * self.DRAIN_FACTOR):
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > self.max_bytes * self.DRAIN_FACTOR:
                break
            if size <= self.max_bytes:
                chunks.append(chunk)
            else:
                chunks.clear()  # over the limit: read on, keep nothing
        if size > self.max_bytes:
            await self._refuse(send)
            return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> MutableMapping[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": messages.UPLOAD_TOO_BIG.format(mb=file_mb(self.max_bytes))},
                          ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
