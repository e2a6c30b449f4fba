"""Stored files: the user's media and the bot's uploads, ``getFile`` and the download route."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .constants import _FILE_LAYOUT
from .core import FakeTelegramCore
from .records import UploadedFile, _StoredFile
from .util import _bad, _error_response


class FilesMixin(FakeTelegramCore):
    """Stored files, their Message JSON, ``getFile`` and downloads."""

    def _store_file_locked(
        self, kind: str, content: bytes, file_name: str | None, mime_type: str | None
    ) -> _StoredFile:
        n = next(self._counter)
        directory, extension, default_mime = _FILE_LAYOUT.get(kind, _FILE_LAYOUT["document"])
        if file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[-1]
        stored = _StoredFile(
            file_id=f"FAKE{kind.upper()}{n:08d}AgADBAADfakefileid",
            file_unique_id=f"AQAD{n:08d}",
            file_path=f"{directory}/file_{n}{extension}",
            content=content,
            file_name=file_name,
            mime_type=mime_type or default_mime,
        )
        self._files[stored.file_id] = stored
        return stored

    def _media_content_locked(self, kind: str, stored: _StoredFile) -> dict[str, Any]:
        base = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        if kind == "photo":
            thumb = self._store_file_locked("photo", stored.content[:64], None, stored.mime_type)
            sizes = [
                {"file_id": thumb.file_id, "file_unique_id": thumb.file_unique_id,
                 "file_size": len(thumb.content), "width": 90, "height": 67},
                {**base, "width": 1280, "height": 960},
            ]  # fmt: skip
            return {"photo": sizes}
        if kind == "sticker":
            return {"sticker": {**base, "type": "regular", "width": 512, "height": 512,
                                "is_animated": False, "is_video": False, "emoji": "👍"}}  # fmt: skip
        if kind == "video_note":
            return {"video_note": {**base, "length": 240, "duration": 3}}
        media: dict[str, Any] = {**base, "mime_type": stored.mime_type}
        if kind in {"video", "animation"}:
            media.update(width=640, height=360, duration=3)
        if kind in {"audio", "voice"}:
            media["duration"] = 3
        if kind in {"document", "animation", "audio", "video"} and stored.file_name:
            media["file_name"] = stored.file_name
        content = {kind: media}
        if kind == "animation":
            content["document"] = dict(media)
        return content

    # ------------------------------------------------------------- Bot API

    def _m_get_file(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> dict[str, Any]:
        with self._lock:
            stored = self._files.get(str(p.get("file_id") or ""))
            if stored is None:
                raise _bad("invalid file_id")
            return {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.content),
                "file_path": stored.file_path,
            }

    async def _handle_file(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return _error_response(401, "Unauthorized")
        path = request.path_params["file_path"]
        with self._lock:
            stored = next((f for f in self._files.values() if f.file_path == path), None)
        if stored is None:
            return _error_response(404, "Not Found")
        return Response(stored.content, media_type=stored.mime_type or "application/octet-stream")

    def file_content(self, file_id: str) -> bytes:
        """Bytes of a stored file (user media, or uploads by the bot)."""
        with self._lock:
            return self._files[file_id].content
