"""The :class:`FakeTelegram` class: the areas' mixins put together, and the Bot API method table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .callbacks import CallbacksMixin
from .chats import ChatsMixin
from .constants import _MEDIA_METHODS
from .files import FilesMixin
from .messages import MessagesMixin
from .polling import PollingMixin
from .server import ServerMixin
from .users import UserActionsMixin
from .waiting import WaitingMixin
from .webhook import WebhookMixin


class FakeTelegram(
    ServerMixin, PollingMixin, WebhookMixin, MessagesMixin, CallbacksMixin, ChatsMixin,
    FilesMixin, UserActionsMixin, WaitingMixin,
):
    """A fake Telegram Bot API server. Use as a context manager or via the fixtures.

    Args:
        token: the bot token the server accepts (others get 401). The part before
            ``:`` (if numeric) becomes the bot's user id.
        bot_first_name, bot_username: the bot's ``getMe`` identity.
        strict_chats: when true (default), sending to a chat no user has written from
            (and that was not :meth:`register_chat`-ed) fails with ``chat not found``,
            as on Telegram.
        webhook_timeout: seconds the server waits for the bot's webhook to answer.
        webhook_retry_s: when set, an update the webhook did not accept (no 2xx, or no
            answer) is offered again after this many seconds, before any later update, as
            Telegram does; by default it is delivered once.
        host: interface to bind (port is chosen freely).
        flood_limits: a :class:`~tests.fake_telegram.flood.TelegramLimits` to answer 429 with
            ``retry_after`` when a message would cross one of Telegram's send limits (every
            refusal is kept in :attr:`flood_refusals`); None (default): no limits.
    """

    def _builtin_handlers(self) -> dict[str, Callable[..., Any]]:
        """Every Bot API method the fake serves (:meth:`add_method` adds more)."""
        handlers: dict[str, Callable[..., Any]] = {
            "getMe": lambda p, f, r: dict(
                self.bot_user,
                can_join_groups=True,
                can_read_all_group_messages=False,
                supports_inline_queries=False,
                can_connect_to_business=False,
                has_main_web_app=False,
            ),
            "logOut": lambda p, f, r: True,
            "close": lambda p, f, r: True,
            "getUpdates": self._m_get_updates,
            "setWebhook": self._m_set_webhook,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": lambda p, f, r: self.webhook_info(),
            "sendMessage": self._m_send_message,
            "sendLocation": self._m_send_location,
            "sendContact": self._m_send_contact,
            "sendChatAction": self._m_send_chat_action,
            "editMessageText": self._m_edit_message_text,
            "editMessageCaption": self._m_edit_message_caption,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "deleteMessage": self._m_delete_message,
            "answerCallbackQuery": self._m_answer_callback_query,
            "setMyCommands": self._m_set_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "getChat": self._m_get_chat,
            "getFile": self._m_get_file,
        }
        for method, kind in _MEDIA_METHODS.items():
            handlers[method] = self._media_handler(method, kind)
        return handlers
