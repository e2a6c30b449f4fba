"""Chats and the bot's commands: which chats exist (a user wrote, or :meth:`register_chat`),
blocked users, ``getChat``, ``setMyCommands`` / ``deleteMyCommands`` / ``getMyCommands``."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from .constants import DEFAULT_FIRST_NAME, DEFAULT_GROUP_USER_ID, DEFAULT_LANGUAGE_CODE, ChatId
from .core import FakeTelegramCore
from .records import UploadedFile, _Chat
from .util import _bad, _norm_chat_id


class ChatsMixin(FakeTelegramCore):
    """Chats (known, blocked, ``getChat``) and the command lists."""

    def register_chat(
        self,
        chat_id: ChatId,
        *,
        user: Mapping[str, Any] | None = None,
        chat_type: str = "private",
        title: str | None = None,
    ) -> dict[str, Any]:
        """Make a chat known (so the bot may message it before the user writes). Returns the Chat."""
        with self._cond:
            return dict(self._ensure_chat_locked(chat_id, user, chat_type, title).chat)

    def _ensure_chat_locked(
        self,
        chat_id: ChatId,
        user: Mapping[str, Any] | None,
        chat_type: str,
        title: str | None = None,
    ) -> _Chat:
        key = _norm_chat_id(chat_id)
        if key is None:
            raise ValueError("chat_id must not be empty")
        chat = self._chats.get(key)
        if chat is not None:
            return chat
        private = chat_type == "private"
        default_user: dict[str, Any] = {
            "id": key if private and isinstance(key, int) else DEFAULT_GROUP_USER_ID,
            "is_bot": False,
            "first_name": DEFAULT_FIRST_NAME,
            "language_code": DEFAULT_LANGUAGE_CODE,
        }
        default_user.update(user or {})
        if private:
            chat_json: dict[str, Any] = {"id": key, "type": "private"}
            for name in ("first_name", "last_name", "username"):
                if default_user.get(name):
                    chat_json[name] = default_user[name]
        else:
            chat_json = {"id": key, "type": chat_type, "title": title or "测试群"}
        chat = _Chat(chat=chat_json, user=default_user)
        self._chats[key] = chat
        return chat

    def block(self, chat_id: ChatId, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot: sends to the chat answer 403."""
        with self._cond:
            self._ensure_chat_locked(chat_id, None, "private").blocked = blocked

    # ------------------------------------------------------ Bot API: chats

    def _m_get_chat(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> dict[str, Any]:
        with self._lock:
            chat_id = _norm_chat_id(p.get("chat_id"))
            chat = self._chats.get(chat_id) if chat_id is not None else None
            if chat is None:
                raise _bad("chat not found")
            return {
                **chat.chat,
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }

    # --------------------------------------------------- Bot API: commands

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope if isinstance(scope, dict) else {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    def _m_set_my_commands(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise _bad("parameter \"commands\" is required")
        if len(commands) > 100:
            raise _bad("too many commands")
        for command in commands:
            if not isinstance(command, dict) or not re.fullmatch(
                r"[a-z0-9_]{1,32}", str(command.get("command", ""))
            ):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description") or "")) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        with self._cond:
            key = self._commands_key(p.get("scope"), p.get("language_code"))
            self._commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
            self._notify_locked()
        return True

    def _m_delete_my_commands(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> bool:
        with self._cond:
            self._commands.pop(self._commands_key(p.get("scope"), p.get("language_code")), None)
            self._notify_locked()
        return True

    def _m_get_my_commands(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> list[dict[str, Any]]:
        return self.commands(p.get("scope"), str(p.get("language_code") or ""))

    def commands(self, scope: Mapping[str, Any] | None = None, language_code: str = "") -> list[dict[str, Any]]:
        """Commands set with setMyCommands for that scope (default scope) and language."""
        with self._lock:
            key = self._commands_key(dict(scope) if scope else None, language_code)
            return copy.deepcopy(self._commands.get(key, []))
