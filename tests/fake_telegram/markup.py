"""Telegram's text markup: ``parse_mode`` rendering (HTML, MarkdownV2, Markdown) and
``reply_markup`` validation, with the real error texts."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any, Final

from .constants import _BUTTON_ACTIONS
from .util import BotApiError, _bad


def _entity_error(message: str) -> BotApiError:
    return _bad(f"can't parse entities: {message}")


_HTML_TAGS: Final = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
     "a", "code", "pre", "blockquote", "tg-emoji"}
)  # fmt: skip


class _TelegramHtml(HTMLParser):
    """Validates Telegram's HTML subset and collects the plain text."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self._line_starts = [0] + [i + 1 for i, ch in enumerate(source) if ch == "\n"]
        self.parts: list[str] = []
        self.stack: list[str] = []

    def _offset(self) -> int:
        line, column = self.getpos()
        index = self._line_starts[line - 1] + column
        return len(self._source[:index].encode())

    def _unsupported(self, tag: str) -> BotApiError:
        return _entity_error(f'Unsupported start tag "{tag}" at byte offset {self._offset()}')

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS or (tag == "span" and ("class", "tg-spoiler") not in attrs):
            raise self._unsupported(tag)
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise self._unsupported(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise _entity_error(f"Unexpected end tag at byte offset {self._offset()}")
        if self.stack[-1] != tag:
            raise _entity_error(
                f'Unmatched end tag at byte offset {self._offset()}, expected '
                f'"</{self.stack[-1]}>", found "</{tag}>"'
            )
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _render_html(text: str) -> str:
    parser = _TelegramHtml(text)
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise _entity_error(
            f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
        )
    return "".join(parser.parts)


_MDV2_RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_ENTITY: Final = {
    "*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler",
}  # fmt: skip


def _render_markdown_v2(text: str) -> str:
    """Approximates Telegram's MarkdownV2 parser: checks escaping and entity balance."""

    def boff(index: int) -> int:
        return len(text[:index].encode())

    out: list[str] = []
    open_markers: dict[str, int] = {}
    link_start: int | None = None
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 < n:
                out.append(text[i + 1])
            i += 2
            continue
        if c == "`":
            fence = "```" if text.startswith("```", i) else "`"
            j, buf = i + len(fence), []
            while j < n and not text.startswith(fence, j):
                if text[j] == "\\" and j + 1 < n:
                    buf.append(text[j + 1])
                    j += 2
                else:
                    buf.append(text[j])
                    j += 1
            if j >= n:
                entity = "Pre" if fence == "```" else "Code"
                raise _entity_error(f"Can't find end of {entity} entity at byte offset {boff(i)}")
            content = "".join(buf)
            if fence == "```" and "\n" in content:
                first, rest = content.split("\n", 1)
                if first and not first[0].isspace() and " " not in first:
                    content = rest  # language tag
            out.append(content)
            i = j + len(fence)
            continue
        at_line_start = i == 0 or text[i - 1] == "\n"
        if at_line_start and text.startswith("**>", i):
            i += 3
            continue
        if at_line_start and c == ">":
            i += 1
            continue
        marker = text[i : i + 2] if text.startswith(("__", "||"), i) else c
        if marker in _MDV2_ENTITY:
            if marker in open_markers:
                del open_markers[marker]
            else:
                open_markers[marker] = i
            i += len(marker)
            continue
        if c == "!" and text.startswith("[", i + 1):
            i += 1
            continue
        if c == "[" and link_start is None:
            link_start = i
            i += 1
            continue
        if c == "]" and link_start is not None:
            link_start = None
            i += 1
            if i < n and text[i] == "(":
                j = i + 1
                while j < n and text[j] != ")":
                    j += 2 if text[j] == "\\" else 1
                if j >= n:
                    raise _entity_error(f"Can't find end of a URL at byte offset {boff(i)}")
                i = j + 1
            continue
        if c in _MDV2_RESERVED:
            raise _entity_error(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        out.append(c)
        i += 1
    if open_markers:
        marker, start = min(open_markers.items(), key=lambda item: item[1])
        raise _entity_error(
            f"Can't find end of {_MDV2_ENTITY[marker]} entity at byte offset {boff(start)}"
        )
    if link_start is not None:
        raise _entity_error(f"Can't find end of TextUrl entity at byte offset {boff(link_start)}")
    return "".join(out)


def _render_markdown(text: str) -> str:
    """Approximates Telegram's legacy Markdown parser."""

    def fail(index: int) -> BotApiError:
        offset = len(text[:index].encode())
        return _entity_error(f"Can't find end of the entity starting at byte offset {offset}")

    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            i += 2
        elif c in "*_`":
            fence = "```" if text.startswith("```", i) else c
            end = text.find(fence, i + len(fence))
            if end < 0:
                raise fail(i)
            out.append(text[i + len(fence) : end])
            i = end + len(fence)
        elif c == "[":
            close = text.find("](", i + 1)
            end = text.find(")", close + 2) if close >= 0 else -1
            if end < 0:
                raise fail(i)
            out.append(text[i + 1 : close])
            i = end + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def render_text(text: str, parse_mode: str | None) -> str:
    """The plain text Telegram would show for ``text`` in ``parse_mode``.

    Raises :class:`BotApiError` (400 ``can't parse entities: ...``) like Telegram.
    """
    if not parse_mode:
        return text
    mode = parse_mode.lower()
    if mode == "html":
        return _render_html(text)
    if mode == "markdownv2":
        return _render_markdown_v2(text)
    if mode == "markdown":
        return _render_markdown(text)
    raise _bad("unsupported parse_mode")


def _validate_markup(markup: Any) -> dict[str, Any] | None:
    if markup is None or markup == "":
        return None
    if isinstance(markup, str):
        try:
            markup = json.loads(markup)
        except ValueError:
            raise _bad("can't parse reply keyboard markup JSON object") from None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad(
                "can't parse inline keyboard button: field \"inline_keyboard\" of the "
                "InlineKeyboardMarkup must be an Array of Arrays"
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
                if not _BUTTON_ACTIONS & set(button):
                    raise _bad(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if "callback_data" in button and (
                    not isinstance(data, str) or not 1 <= len(data.encode()) <= 64
                ):
                    raise _bad("BUTTON_DATA_INVALID")
                url = button.get("url")
                if "url" in button and not (
                    isinstance(url, str) and re.match(r"^(https?|tg)://\S+$", url)
                ):
                    raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
    return markup
