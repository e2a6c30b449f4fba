"""The error answer (:class:`BotApiError`) and small helpers shared by the method areas."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

from .constants import _BUTTON_ACTIONS, _NOT_DEFAULT_UPDATE_TYPES, ChatId


class BotApiError(Exception):
    """A Bot API error answer. Raise it from a custom method (:meth:`FakeTelegram.add_method`)."""

    def __init__(
        self,
        error_code: int,
        description: str,
        parameters: dict[str, Any] | None = None,
        *,
        abandoned: bool = False,
    ) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters
        self.abandoned = abandoned


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _button_action(button: Mapping[str, Any]) -> str:
    for key in _BUTTON_ACTIONS:
        if key in button:
            return f"{key}={button[key]!r}"
    return "no action"


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _now() -> int:
    return int(time.time())


def _bad(description: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {description}")


def _norm_chat_id(value: Any) -> ChatId | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _bad("chat_id must be an Integer or a String")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _as_int(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"wrong parameter {name} specified") from None


def _as_float(value: Any, name: str, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad(f"wrong parameter {name} specified") from None


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in {"true", "1"}
    return bool(value)


def _update_type(update: Mapping[str, Any]) -> str:
    return next((k for k in update if k != "update_id"), "")


def _allowed(update: Mapping[str, Any], allowed_updates: list[str] | None) -> bool:
    kind = _update_type(update)
    if allowed_updates:
        return kind in allowed_updates
    return kind not in _NOT_DEFAULT_UPDATE_TYPES


def _error_response(
    code: int, description: str, parameters: dict[str, Any] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=code)


def _command_entities(text: str) -> list[dict[str, Any]]:
    if not text.startswith("/") or len(text) < 2:
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]


def _without_reply(message: Mapping[str, Any]) -> dict[str, Any]:
    """A message as embedded in ``reply_to_message`` (Telegram does not nest further)."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k != "reply_to_message"}
