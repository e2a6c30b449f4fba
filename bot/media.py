"""Photos and documents in Telegram messages: which file, under what name, and its bytes."""

from __future__ import annotations

from telegram import Message

DOWNLOAD_LIMIT = 20 * 1024 * 1024  # bots may download at most 20 MB


class TooBig(Exception):
    """The file is over what a bot may download."""


def has_file(message: Message) -> bool:
    return bool(message.photo or message.document)


async def download(message: Message) -> tuple[str | None, str | None, bytes]:
    """``(file name, MIME type, bytes)`` of the message's photo (largest size) or document.

    Raises :class:`TooBig` before downloading anything over :data:`DOWNLOAD_LIMIT`.
    """
    if message.photo:
        media, name, mime = message.photo[-1], f"photo_{message.message_id}.jpg", "image/jpeg"
    elif message.document is not None:
        doc = message.document
        media, name, mime = doc, doc.file_name, doc.mime_type
    else:
        raise ValueError("the message has no photo or document")
    if (media.file_size or 0) > DOWNLOAD_LIMIT:
        raise TooBig
    file = await media.get_file()
    return name, mime, bytes(await file.download_as_bytearray())
