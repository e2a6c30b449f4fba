"""Constants of the fake Bot API: defaults, Telegram's error texts, parameter and media tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

ChatId = int | str
"""A chat id as the bot uses it: an integer, or ``"@username"`` for public chats."""
MethodHandler = Callable[[dict[str, Any]], Any]
"""Signature of a custom method added with :meth:`FakeTelegram.add_method`."""

DEFAULT_TOKEN: Final = "123456789:AAFakeHotlineTestToken_0123456789abcde"
SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_FIRST_NAME: Final = "测试用户"
DEFAULT_LANGUAGE_CODE: Final = "zh-hans"
DEFAULT_GROUP_USER_ID: Final = 700000001
"""``from.id`` of user messages in non-private chats when no ``user`` is given."""
DEFAULT_LOCATION: Final = {"latitude": 31.230416, "longitude": 121.473701}

_NOT_DEFAULT_UPDATE_TYPES: Final = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
_CONFLICT_WEBHOOK: Final = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_CONFLICT_OTHER_POLL: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID: Final = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
_CHAT_ACTIONS: Final = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
# Top-level parameters that are strings in the Bot API. In form/multipart requests
# every other value is JSON-decoded (PTB JSON-encodes all non-string values).
_STRING_PARAMS: Final = frozenset(
    {
        "text", "caption", "parse_mode", "url", "secret_token", "callback_query_id",
        "inline_message_id", "inline_query_id", "action", "emoji", "ip_address",
        "language_code", "file_id", "photo", "document", "audio", "voice", "video",
        "animation", "sticker", "video_note", "thumbnail", "title", "description",
        "short_description", "name", "phone_number", "first_name", "last_name", "vcard",
        "address", "foursquare_id", "foursquare_type", "google_place_id",
        "google_place_type", "business_connection_id", "message_effect_id", "question",
        "certificate", "file_name", "performer", "switch_pm_text", "switch_pm_parameter",
        "next_offset", "start_parameter", "payload", "provider_token", "currency",
    }
)  # fmt: skip
_BUTTON_ACTIONS: Final = frozenset(
    {
        "url", "callback_data", "web_app", "login_url", "switch_inline_query",
        "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
        "copy_text", "callback_game", "pay",
    }
)  # fmt: skip
_MEDIA_METHODS: Final = {
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendAudio": "audio",
    "sendVoice": "voice",
    "sendVideo": "video",
    "sendAnimation": "animation",
    "sendSticker": "sticker",
    "sendVideoNote": "video_note",
}
_FILE_LAYOUT: Final = {  # kind -> (directory, extension, mime type)
    "photo": ("photos", ".jpg", "image/jpeg"),
    "document": ("documents", ".bin", "application/octet-stream"),
    "audio": ("music", ".mp3", "audio/mpeg"),
    "voice": ("voice", ".oga", "audio/ogg"),
    "video": ("videos", ".mp4", "video/mp4"),
    "animation": ("animations", ".mp4", "video/mp4"),
    "sticker": ("stickers", ".webp", "image/webp"),
    "video_note": ("video_notes", ".mp4", "video/mp4"),
}
USER_SEND_KINDS: Final = (*_FILE_LAYOUT, "location", "contact")
"""Kinds accepted by :meth:`FakeTelegram.user_sends`."""


class _UseWebhookSecret:
    """Type of :data:`WEBHOOK_SECRET`."""

    def __repr__(self) -> str:
        return "WEBHOOK_SECRET"


WEBHOOK_SECRET: Final = _UseWebhookSecret()
"""Default of ``secret=`` in :meth:`FakeTelegram.post_to_webhook`: send the secret
configured with ``setWebhook`` (if any)."""
