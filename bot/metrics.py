"""Prometheus metrics of a gateway process (``GET /metrics``, text format).

Counted as they happen (per process; Prometheus scrapes every replica):
messages in and out per channel, the time from a message to its replies, Rasa failures by kind,
webhook updates stored and re-queued after a crash.

Read from the shared state at scrape time (the same figure from every replica):
the operator queue's length and its longest wait (Redis), chats per handoff mode, the outbox
backlog by channel and status (database), webhook updates not yet handled.

Each scrape-time source is read separately; one that is down reports ``hotline_up{source}`` 0
instead of failing the whole scrape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from hotline import handoff
from hotline.db import session_scope
from hotline.models import NotificationOutbox, TelegramInbox

logger = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES_IN = Counter("hotline_messages_in", "Messages received from enterprises",
                      ["channel"], registry=REGISTRY)
MESSAGES_OUT = Counter("hotline_messages_out", "Replies sent to enterprises by the bot",
                       ["channel"], registry=REGISTRY)
REPLY_SECONDS = Histogram(
    "hotline_reply_seconds", "From a message received to its replies ready (gateway + Rasa + "
    "actions)", ["channel"], registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60))
RASA_FAILURES = Counter(
    "hotline_rasa_failures", "Messages Rasa could not answer: unavailable (down, loading), "
    "timeout, empty (action server down or an action raised), redis (state store down)",
    ["kind"], registry=REGISTRY)
RASA_WAIT = Histogram(
    "hotline_rasa_wait_seconds", "How long a message waited for its turn into Rasa (the "
    "gateway's limit of messages inside Rasa at once, HOTLINE_RASA_MAX_INFLIGHT)",
    registry=REGISTRY, buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 30))
WEBHOOK_UPDATES = Counter("hotline_telegram_webhook_updates",
                          "Telegram webhook updates: stored, duplicate, requeued, refused",
                          ["result"], registry=REGISTRY)

TELEGRAM_THROTTLED = Histogram(
    "hotline_telegram_throttle_seconds", "How long a message to Telegram waited for the "
    "bot's, the chat's or the group's send window (hotline.send_rate)",
    registry=REGISTRY, buckets=(0, 0.05, 0.25, 1, 3, 10, 30, 60))
TELEGRAM_FLOOD = Counter("hotline_telegram_flood_refusals",
                         "429 Too Many Requests answers from Telegram", registry=REGISTRY)

class SharedState(Collector):
    """Figures read from Redis and the database when Prometheus scrapes."""

    def __init__(self, sync_redis: redis.Redis, db_url: str) -> None:
        self._redis = sync_redis
        self._db_url = db_url

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("hotline_up", "Whether a shared source could be read",
                               labels=["source"])
        try:
            yield from self._from_redis()
            up.add_metric(["redis"], 1)
        except redis.RedisError as exc:
            logger.warning("metrics: Redis unreadable (%s)", exc)
            up.add_metric(["redis"], 0)
        try:
            yield from self._from_database()
            up.add_metric(["database"], 1)
        except Exception as exc:  # noqa: BLE001 - any database failure: report it as down
            logger.warning("metrics: database unreadable (%s)", exc)
            up.add_metric(["database"], 0)
        yield up

    def _from_redis(self) -> Iterator[Metric]:
        waiting = handoff.queue(self._redis)
        queue = GaugeMetricFamily("hotline_queue_length", "Chats waiting for an operator")
        queue.add_metric([], len(waiting))
        longest = GaugeMetricFamily("hotline_queue_longest_wait_seconds",
                                    "How long the longest-waiting chat has waited")
        longest.add_metric([], max((e.waited.total_seconds() for e in waiting), default=0.0))
        return iter([queue, longest])

    def _from_database(self) -> Iterator[Metric]:
        outbox = GaugeMetricFamily("hotline_outbox", "Notifications by channel and status",
                                   labels=["channel", "status"])
        inbox = GaugeMetricFamily("hotline_telegram_inbox_pending",
                                  "Webhook updates stored and not yet handled")
        with session_scope(self._db_url) as session:
            rows = session.execute(
                select(NotificationOutbox.channel, NotificationOutbox.status, func.count())
                .group_by(NotificationOutbox.channel, NotificationOutbox.status)).all()
            pending = session.scalar(select(func.count()).select_from(TelegramInbox)
                                     .where(TelegramInbox.done_at.is_(None))) or 0
        for channel, status, count in rows:
            outbox.add_metric([channel, status], count)
        inbox.add_metric([], pending)
        return iter([outbox, inbox])


class Timer:
    """``with Timer(channel): ...`` observes the reply time of one message."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.started = time.perf_counter()

    def __enter__(self) -> Timer:
        MESSAGES_IN.labels(self.channel).inc()
        return self

    def __exit__(self, *_exc: object) -> None:
        REPLY_SECONDS.labels(self.channel).observe(time.perf_counter() - self.started)
