"""Reading long messages (letters) by their content.

When a problem is serious, enterprises paste letters: a salutation and a self-introduction,
a story, the request near the end, a closing. Classifying such a text by its opening gets it
wrong (a 您好 is not a greeting to answer; 谢谢 at the end is not thanks). These functions
strip the frame and cut the body into sentences, marking the ones that carry the request,
so the NLU can weigh content over courtesy. Pure functions: the Rasa components
(``nlu/components/``) and the tests share them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LONG_CHARS = 60
"""From this length (after stripping) a message is read as a letter, not a chat line."""

_TITLE = r"(?:[\u4e00-\u9fa5A-Za-z0-9]{0,12}?(?:局长|书记|市长|县长|区长|镇长|主任|领导|同志|部长|厅长|处长|科长|主席|先生|女士|工作人员|政府|热线|客服|小助手))"
_SALUTATION = re.compile(
    rf"^\s*(?:(?:尊敬|敬爱|亲爱)的)?\s*(?:{_TITLE}|各位|您|你)(?:们)?\s*(?:[:：,，!！]\s*)?"
    r"(?:(?:您|你)(?:们)?好[!！,，。.~～]*\s*)?"
)
_HELLO = re.compile(r"^\s*(?:(?:您|你)(?:们)?好|领导好|大家好|在吗|打扰了|冒昧打扰)[^。！？!?]{0,6}?[!！,，。.~～\s]+")
_SELF_INTRO = re.compile(
    r"^\s*(?:我|我们|本人|小弟|笔者)(?:是|系|叫)[^。！？!?，,]{0,40}?"
    r"(?:[的地]?(?:个体户|个体工商户|负责人|法人|法定代表人|老板|业主|会计|财务|员工|职工|居民|村民|"
    r"市民|家长|一名[^。！？!?，,]{0,10}|一家[^。！？!?，,]{0,20}|企业|公司|工厂|合作社|店主))"
    r"[，,。.]?\s*"
)
# One closing word with what may follow it (谢谢领导, 谢谢您, 辛苦了). There is one way only to
# cut a run of closings, so a long run that is not at the end fails in linear time: "你" is not
# a word's tail when it starts the next word (谢谢你辛苦了), and the separators between two
# words are read once — ending punctuation, then from the first comma on, leading punctuation.
_CLOSING_WORD = (
    r"(?:此致|敬礼|盼复|盼回复|望回复|期待回复|静候佳音|万分感谢|非常感谢|不胜感激|感谢|谢谢|多谢|"
    r"辛苦了|拜托了|麻烦了|望批准|望采纳|祝好|祝工作顺利|祝您工作顺利|顺颂商祺|[你您]们?辛苦了)"
    r"(?:领导|(?:您|你)(?!们?辛苦了)|各位|了|啦)?"
)
_CLOSING = re.compile(
    rf"[，,。.!！\s]*{_CLOSING_WORD}"
    rf"(?:[!！。.~～\s]*(?:[，,][，,。.!！\s]*)?{_CLOSING_WORD})*[!！。.~～\s]*$"
)
_SIGNATURE = re.compile(r"[，,。.\s]*(?:一位|一名)?[\u4e00-\u9fa5A-Za-z0-9]{0,16}(?:敬上|谨上|上书|拜上)[。.\s]*$")
_DATE_TAIL = re.compile(r"[，,。.\s]*\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?[。.\s]*$")
_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;\n]*")
_REQUEST = re.compile(
    r"请|恳请|希望|盼|望|能否|能不能|可否|可不可以|怎么办|怎么处理|如何|是否|要求|呼吁|帮忙|帮帮|"
    r"解决|给个说法|过问|核查|督促|协调|催|追究|答复|咨询|问一下|请问|想问|想了解"
)


def strip_frame(text: str) -> str:
    """The body of a message without salutation, self-introduction and closing.

    Never returns an empty string for a non-empty message: a text that is all courtesy
    (``您好，谢谢``) is returned as it was, since then the courtesy is the content.
    """
    body = text.strip()
    for _ in range(3):  # "尊敬的局长：您好！我是…的个体户，" in any order
        before = body
        body = _SALUTATION.sub("", body, count=1) if len(body) > LONG_CHARS / 2 else body
        body = _HELLO.sub("", body, count=1)
        body = _SELF_INTRO.sub("", body, count=1)
        if body == before:
            break
    for _ in range(3):
        before = body
        body = _DATE_TAIL.sub("", body)
        body = _SIGNATURE.sub("", body)
        body = _CLOSING.sub("", body)
        if body == before:
            break
    body = body.strip(" ，,。.!！")
    return body if len(body) >= 4 else text.strip()


@dataclass(frozen=True)
class Sentence:
    text: str
    request: bool  # asks for something: weighted up when reading a letter


def sentences(body: str, min_chars: int = 6) -> list[Sentence]:
    """The body cut at sentence ends; fragments shorter than ``min_chars`` join the next."""
    out: list[Sentence] = []
    carry = ""
    for match in _SENTENCE.finditer(body):
        piece = (carry + match.group(0)).strip()
        if len(piece) < min_chars:
            carry = piece
            continue
        carry = ""
        out.append(Sentence(piece, bool(_REQUEST.search(piece))))
    if carry:
        if out:
            last = out[-1]
            out[-1] = Sentence(last.text + carry, last.request or bool(_REQUEST.search(carry)))
        else:
            out.append(Sentence(carry, bool(_REQUEST.search(carry))))
    return out


def is_long(body: str) -> bool:
    return len(body) >= LONG_CHARS
