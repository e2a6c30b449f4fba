"""Identifiers an enterprise types into the form, and its file (逐户建档)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from hotline import enterprises, identity

VALID = "91440300MA5FHX7K1T"


@pytest.mark.parametrize("raw", [VALID, VALID.lower(), "9144 0300 MA5F HX7K 1T", "９１４４０３００ＭＡ５ＦＨＸ７Ｋ１Ｔ"])
def test_valid_uscc_in_any_typing(raw: str) -> None:
    assert enterprises.clean_uscc(raw) == (VALID, None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("91440300MA5FHX7K1A", "校验位不正确"),  # wrong check digit
        ("91440300MA5FHX7K1", "18位"),
        ("", "18位"),
        ("我不知道", "18位"),
    ],
)
def test_invalid_uscc_says_why(raw: str, reason: str) -> None:
    code, problem = enterprises.clean_uscc(raw)
    assert code is None and problem is not None and reason in problem


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("0755-86001234", "0755-86001234"),
        ("020 12345678", "020-12345678"),
    ],
)
def test_phone_numbers_are_canonical(raw: str, expected: str) -> None:
    assert enterprises.clean_phone(raw) == (expected, None)


@pytest.mark.parametrize("raw", ["138OO138000", "abc", "12345", "", "1380013800099"])
def test_bad_phone_numbers_are_refused_with_a_reason(raw: str) -> None:
    phone, problem = enterprises.clean_phone(raw)
    assert phone is None and problem and "电话" in problem


def test_company_and_contact_names() -> None:
    assert enterprises.clean_company("深圳市华兴精密制造有限公司。")[0] == "深圳市华兴精密制造有限公司"
    assert enterprises.clean_company("123")[0] is None
    assert enterprises.clean_person("张经理")[0] == "张经理"
    assert enterprises.clean_person("<script>")[0] is None


def test_a_returning_chat_is_not_asked_again_but_sees_only_what_it_gave(session: Session) -> None:
    assert enterprises.card_for(session, "tg:1") is None
    identity.claim(session, "tg:1", uscc=VALID, name="华兴精密", contact_name="张三",
                   contact_phone="13800138000", actor="enterprise")
    card = enterprises.card_for(session, "tg:1")
    assert card is not None and card.uscc == VALID and card.name == "华兴精密"
    assert not card.verified
    # Another chat typing the same public code gets the public name, never the file's contact.
    identity.claim(session, "web:x", uscc=VALID, name="深圳市华兴精密制造有限公司",
                   contact_name=None, contact_phone=None, actor="enterprise")
    card = enterprises.card_for(session, "web:x")
    assert card is not None and card.name == "华兴精密"
    assert card.contact_name is None and card.contact_phone is None
