"""Enterprises on file (逐户建档): validation of what a chat types about its enterprise, and
what a returning chat is not asked again (see :mod:`hotline.identity` for who may see what)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from sqlalchemy.orm import Session
from stdnum.cn import uscc as uscc_check
from stdnum.exceptions import ValidationError

from hotline import identity
from hotline.company_names import COMPANY_IN_TEXT, registered_name
from hotline.models import Enterprise
from hotline.textnorm import normalize

_SEPARATORS = re.compile(r"[\s\-－—_·.]")


@dataclass(frozen=True)
class EnterpriseCard:
    """What a form needs to prefill for a known enterprise."""

    id: int
    uscc: str
    name: str
    contact_name: str | None
    contact_phone: str | None
    verified: bool = False


def clean_uscc(raw: str) -> tuple[str | None, str | None]:
    """(code, None) when valid; (None, Chinese reason) otherwise."""
    code = _SEPARATORS.sub("", normalize(raw)).upper()
    if len(code) != 18:
        return None, f"统一社会信用代码应为18位，您输入的是{len(code)}位，请核对营业执照后重新输入。"
    try:
        return uscc_check.validate(code), None
    except ValidationError:
        return None, "这个统一社会信用代码校验位不正确，请对照营业执照逐位核对后重新输入（注意数字0和字母O的区别）。"


def clean_phone(raw: str) -> tuple[str | None, str | None]:
    """A Chinese mobile or landline number in national format, or a Chinese reason."""
    text = normalize(raw)
    if re.search(r"[A-Za-z]", text):
        return None, "电话号码里不能有字母，请输入11位手机号或带区号的固话（如 0755-86001234）。"
    digits = re.sub(r"[^\d+]", "", text)
    try:
        number = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        return None, "没能识别这个电话号码，请输入11位手机号或带区号的固话（如 0755-86001234）。"
    if not phonenumbers.is_valid_number(number) or number.country_code != 86:
        return None, "这个电话号码无效，请输入11位手机号或带区号的固话（如 0755-86001234）。"
    area, *rest = phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.NATIONAL
    ).split(" ")
    if area.startswith("1"):  # mobile
        return area + "".join(rest), None
    return f"{area}-{''.join(rest)}", None


#: What a sentence has and a registered name never does: clause punctuation, question
#: particles, words of a complaint or a time span.
_SENTENCE_RE = re.compile(
    r"[，,。？?！!；;]|吗|呢|吧|怎么|为什么|一直|已经|还没|没有|不给|不让|下不来|我们|我司|你们|"
    r"请问|帮忙|了$|个月|多久"
)


def is_sentence(text: str) -> bool:
    """Whether ``text`` reads as a sentence (clause punctuation, a question or complaint
    word), which a name never does."""
    return _SENTENCE_RE.search(text) is not None


MSG_COMPANY = "请输入营业执照上的企业全称（如“深圳市华兴精密制造有限公司”）。"
MSG_COMPANY_SENTENCE = "这句话看起来是在说明情况，不像企业名称。" + MSG_COMPANY


def clean_company(raw: str) -> tuple[str | None, str | None]:
    """The registered name in full (place prefix kept), whatever lead-in words surround it.

    A sentence typed where the name was asked ("我们厂的环评批复一直下不来") is not taken
    as the name: a registered name ends in an organisational form (有限公司, 厂 …) and has
    no clause punctuation or question words.
    """
    name = registered_name(normalize(raw))
    if len(name) < 4 or name.isdigit():
        return None, MSG_COMPANY
    if len(name) > 100:
        return None, "企业名称过长，请输入营业执照上的企业全称。"
    registered = COMPANY_IN_TEXT.fullmatch(name) is not None
    if not registered and (_SENTENCE_RE.search(name) or len(name) > 40):
        return None, MSG_COMPANY_SENTENCE
    return name, None


_PERSON_LEAD = re.compile(r"^(?:(?:联系人|姓名|名字|称呼)(?:是|为)?[:：]?\s*)?(?:我叫|我是|叫我|找|叫)?")
_PERSON_TAIL = re.compile(r"(?:就行|就可以|就好|即可)?(?:了|啦)?$")


def clean_person(raw: str) -> tuple[str | None, str | None]:
    """A contact as people give one: 陈先生, 李小姐, 小李, 老张, 陈大文, 欧阳娜娜, 阿依古丽·买买提."""
    name = normalize(raw).strip(" 。，,.!！")
    name = _PERSON_TAIL.sub("", _PERSON_LEAD.sub("", name, count=1)).strip(" 。，,.") or name
    if not name or len(name) > 20 or not re.fullmatch(r"[\u4e00-\u9fffA-Za-z·• ]+", name) \
            or (len(name) > 4 and is_sentence(name)):  # 我们厂的批复一直没有下来: no name
        return None, "请输入联系人姓名（如“张经理”或“张三”）。"
    return name, None


def card_for(session: Session, conversation_id: str) -> EnterpriseCard | None:
    """What this chat may prefill: the file's contacts only when the chat is verified for the
    enterprise; a mere claim gets the public name and code and the contact it gave itself."""
    claim = identity.claim_of(session, conversation_id)
    if claim is None:
        return None
    if claim.verified:
        enterprise = session.get(Enterprise, claim.enterprise_id)
        assert enterprise is not None
        return EnterpriseCard(enterprise.id, enterprise.uscc, enterprise.name,
                              enterprise.contact_name, enterprise.contact_phone, True)
    contact_name, contact_phone = identity.last_contact_of(session, conversation_id)
    return EnterpriseCard(claim.enterprise_id, claim.uscc, claim.name, contact_name,
                          contact_phone, False)
