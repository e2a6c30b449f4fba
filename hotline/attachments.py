"""Photos and documents sent in chats, both ways (enterprise ↔ operator).

Stored in the database (:class:`hotline.models.Attachment`) and referenced from the
transcript message that carried them. Only common office and image types are accepted,
and the size is capped, so the console never serves an executable or a huge blob.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from urllib.parse import quote

from sqlalchemy.orm import Session

from hotline.models import Attachment

ALLOWED = {
    "image/jpeg", "image/png", "image/gif", "image/webp",
    "application/pdf", "text/plain",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/zip",
}
IMAGES = frozenset(m for m in ALLOWED if m.startswith("image/"))
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


class AttachmentError(ValueError):
    """A file we will not keep; ``str(error)`` is Chinese, for whoever sent it."""


def clean_filename(raw: str | None, mime: str) -> str:
    name = unicodedata.normalize("NFC", (raw or "").strip()).rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(". ")[:150]
    if not name:
        name = "附件" + (mimetypes.guess_extension(mime) or "")
    return name


def guess_mime(filename: str | None, declared: str | None) -> str:
    mime = (declared or "").split(";")[0].strip().lower()
    if mime in ALLOWED:
        return mime
    guessed, _ = mimetypes.guess_type(filename or "")
    return guessed or mime or "application/octet-stream"


def save(
    session: Session, conversation_id: str, filename: str | None, mime: str | None, data: bytes,
    uploaded_by: str, *, max_bytes: int = DEFAULT_MAX_BYTES,
) -> Attachment:
    """Check and add an attachment to the caller's transaction."""
    mime = guess_mime(filename, mime)
    if not data:
        raise AttachmentError("文件是空的，请重新选择。")
    if len(data) > max_bytes:
        raise AttachmentError(f"文件超过 {max_bytes // (1024 * 1024)} MB，请压缩后再发送。")
    if mime not in ALLOWED:
        raise AttachmentError("不支持该文件类型，请发送图片、PDF、Word、Excel、文本或 ZIP 文件。")
    row = Attachment(conversation_id=conversation_id, filename=clean_filename(filename, mime),
                     mime=mime, size=len(data), data=data, uploaded_by=uploaded_by)
    session.add(row)
    session.flush()
    return row


def is_image(mime: str) -> bool:
    return mime in IMAGES


def fetch(session: Session, attachment_id: int, conversation_id: str | None = None
          ) -> tuple[str, str, bytes] | None:
    """``(file name, MIME type, bytes)`` of an attachment — of that conversation when given."""
    row = session.get(Attachment, attachment_id)
    if row is None or (conversation_id is not None and row.conversation_id != conversation_id):
        return None
    return row.filename, row.mime, bytes(row.data)


def content_disposition(filename: str, mime: str) -> str:
    """Images open in the browser, anything else downloads; the name survives in UTF-8."""
    kind = "inline" if mime in IMAGES else "attachment"
    return f"{kind}; filename*=UTF-8''{quote(filename)}"
