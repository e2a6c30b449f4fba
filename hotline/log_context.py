"""Which conversation and which message a log line is about, in every process, and JSON logs.

Why this module exists: one enterprise message passes the gateway, Rasa and the action
server; an operator following it needs the same two ids on each process's lines. The gateway
opens a :func:`request` scope where a message arrives (a Telegram update, a web-chat frame):
the conversation's log pseudonym (never its chat or session id: those are personal data, see
``bot/logsafe.py``) and a fresh request id. Both go to Rasa in the message's metadata
(:func:`for_rasa`), Rasa hands them to the action server with the tracker, and the action
server opens the same scope from them (:func:`from_rasa`). :class:`ContextFilter` puts them
on every log record; :func:`configure` writes records as one JSON object a line when
``HOTLINE_LOG_FORMAT=json`` (else the usual text lines, ids appended).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

from hotline.settings import Settings

CONVERSATION: ContextVar[str | None] = ContextVar("log_conversation", default=None)
REQUEST: ContextVar[str | None] = ContextVar("log_request", default=None)
METADATA_KEY = "log"  # under this key of a Rasa message's metadata


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


@contextlib.contextmanager
def request(conversation_ref: str | None, request_id: str | None = None, *,
            reuse: bool = False) -> Iterator[str]:
    """Log lines inside are about ``conversation_ref`` (a pseudonym) and one request.

    ``reuse``: inside an open scope of the same conversation keep its request id (a
    Telegram update's scope, then the relay's for the message it carries)."""
    current = REQUEST.get()
    if reuse and current is not None and CONVERSATION.get() == conversation_ref:
        yield current
        return
    rid = request_id or new_request_id()
    tokens = (CONVERSATION.set(conversation_ref), REQUEST.set(rid))
    try:
        yield rid
    finally:
        REQUEST.reset(tokens[1])
        CONVERSATION.reset(tokens[0])


def current() -> dict[str, str]:
    """The open scope's ids (empty outside one)."""
    ids = {"conversation": CONVERSATION.get(), "request_id": REQUEST.get()}
    return {k: v for k, v in ids.items() if v}


def for_rasa() -> dict[str, Any]:
    """Metadata to send with a message to Rasa so the action server logs the same ids."""
    ids = current()
    return {METADATA_KEY: ids} if ids else {}


def from_rasa(metadata: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """The ``(conversation, request id)`` the gateway sent with a message, if it did."""
    ids = (metadata or {}).get(METADATA_KEY)
    if not isinstance(ids, Mapping):
        return None, None
    conversation, rid = ids.get("conversation"), ids.get("request_id")
    return (conversation if isinstance(conversation, str) else None,
            rid if isinstance(rid, str) else None)


class ContextFilter(logging.Filter):
    """Puts ``conversation`` and ``request_id`` (None outside a scope) on every record."""

    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.conversation = CONVERSATION.get()
        record.request_id = REQUEST.get()
        record.service = self.service
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, service and the ids."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc)
            .isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": getattr(record, "service", None) or None,
            "conversation": getattr(record, "conversation", None),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps({k: v for k, v in entry.items() if v is not None},
                          ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The usual line, with ``[conversation request]`` when inside a scope."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [getattr(record, "conversation", None), getattr(record, "request_id", None)]
        shown = " ".join(i for i in ids if i)
        return f"{line} [{shown}]" if shown else line


def configure(settings: Settings, *, service: str, level: int | str = logging.INFO) -> None:
    """The process's root handler: JSON or text per ``settings.log_format``, ids on each
    record. Replaces root handlers set before (a library's coloured console handler)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter(service))
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
