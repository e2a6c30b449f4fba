"""Fuzzing what the ticket form checks: credit code, phone, company, contact, description.

Each cleaner answers every input with either a value or a Chinese reason, never both, never
an exception; the Rasa form validators built on them do the same for any slot value. The
credit code is checked against an independent implementation of its check digit
(GB 32100-2015): a valid code in any spelling is accepted, any single changed character is
refused.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.ticket_form import ValidateTicketForm
from hotline import tickets
from hotline.enterprises import clean_company, clean_person, clean_phone, clean_uscc
from tests.fuzz_helpers import any_text, fuzz, fuzz_report, ran  # noqa: F401

CJK = re.compile(r"[\u4e00-\u9fff]")
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z


def check_digit(first17: str) -> str:
    """The 18th character: weights 3^i mod 31, the sum's complement mod 31."""
    total = sum(ALPHABET.index(ch) * pow(3, i, 31) for i, ch in enumerate(first17))
    return ALPHABET[(31 - total % 31) % 31]


valid_uscc = st.tuples(
    st.text("0123456789", min_size=8, max_size=8),
    st.text(ALPHABET, min_size=9, max_size=9),
).map(lambda parts: parts[0] + parts[1] + check_digit(parts[0] + parts[1]))

# What a substituted character may be: the code's own alphabet, its look-alikes, lower case,
# full-width forms, separators, CJK and a few symbols.
MUTANTS = sorted(set(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    "０１２３４５６７８９ＡＯＩｏ -_.·—&#;／统一\x00"
))


def _answers(result: tuple[str | None, str | None]) -> str | None:
    """The cleaner's contract: a value or a Chinese reason, exactly one of them."""
    value, reason = result
    assert (value is None) != (reason is None), result
    if reason is not None:
        assert CJK.search(reason), reason
    return value


def _canonical(ch: str) -> str:
    """What the cleaner makes of one typed character."""
    from hotline.textnorm import normalize

    return re.sub(r"[\s\-－—_·.]", "", normalize(ch)).upper()


# --- credit code ---------------------------------------------------------------------------


@fuzz(250)
@given(any_text | st.text(ALPHABET + "-— Oo", min_size=16, max_size=20))
@example("٩١١١٠٠٠٠600037341L")  # Arabic-Indic digits are not digits of a code
@example("91110000600037341l")
def test_any_text_typed_as_a_credit_code_is_answered(text: str) -> None:
    ran("uscc: any text answered")
    code = _answers(clean_uscc(text))
    if code is not None:
        assert len(code) == 18 and code[:8].isascii() and code[:8].isdigit()
        assert all(ch in ALPHABET for ch in code)
        assert code[-1] == check_digit(code[:17])


@fuzz(60)
@given(valid_uscc, st.sampled_from(["plain", "spaced", "lower", "fullwidth", "dashes"]))
@example("91110000600037341L", "plain")  # python-stdnum's own example
def test_a_valid_code_is_accepted_and_every_single_change_refused(code: str,
                                                                   spelling: str) -> None:
    ran("uscc: valid accepted, 1-char mutants refused")
    typed = {
        "plain": code,
        "spaced": " ".join(code[i:i + 6] for i in range(0, 18, 6)),
        "lower": code.lower(),
        "fullwidth": "".join(chr(ord(c) + 0xFEE0) for c in code),
        "dashes": f"{code[:8]}-{code[8:17]}-{code[17]}",
    }[spelling]
    assert clean_uscc(typed) == (code, None)
    for i, original in enumerate(code):
        for mutant in MUTANTS:
            if _canonical(mutant) == original:
                continue  # the same character in another spelling
            changed = code[:i] + mutant + code[i + 1:]
            value = _answers(clean_uscc(changed))
            assert value is None, f"{changed!r} (position {i + 1}: {original}→{mutant!r}) accepted"


# --- phone, company, contact ---------------------------------------------------------------


mobile = st.tuples(st.sampled_from(["13", "15", "18", "17", "19"]),
                   st.text("0123456789", min_size=9, max_size=9)).map("".join)


@fuzz(200)
@given(any_text | st.text("0123456789+-() ", max_size=20))
@example("+" * 200)
@example("9" * 300)
def test_any_text_typed_as_a_phone_is_answered(text: str) -> None:
    ran("phone: any text answered, canonical stable")
    phone = _answers(clean_phone(text))
    if phone is not None:
        assert re.fullmatch(r"1\d{10}|0\d{2,3}-\d{5,8}", phone), phone
        assert clean_phone(phone) == (phone, None)


@fuzz(100)
@given(mobile, st.sampled_from(["{}", "+86 {}", "86-{}", "{} ", "（{}）"]))
def test_a_mobile_number_means_the_same_however_it_is_written(number: str, form: str) -> None:
    ran("phone: spellings of a mobile agree")
    plain = clean_phone(number)
    spelt = clean_phone(form.format(number[:3] + " " + number[3:7] + "-" + number[7:]))
    assert (spelt[0] is None) == (plain[0] is None)
    if plain[0] is not None:
        assert plain == (number, None) and spelt == plain


@fuzz(200)
@given(any_text | st.sampled_from(["我们是深圳市华兴精密制造有限公司", "叫叫深圳市某某有限公司",
                                   "我们厂的环评批复一直下不来", "公司名称：" + "很" * 120 + "有限公司"]))
def test_any_text_typed_as_a_company_is_answered(text: str) -> None:
    ran("company: any text answered")
    name = _answers(clean_company(text))
    if name is not None:
        assert 4 <= len(name) <= 100 and not name.isdigit()


@fuzz(200)
@given(any_text | st.sampled_from(["联系人是陈先生就行", "阿依古丽·买买提", "叫我小李", "张" * 21]))
def test_any_text_typed_as_a_contact_is_answered(text: str) -> None:
    ran("contact: any text answered")
    person = _answers(clean_person(text))
    if person is not None:
        assert 0 < len(person) <= 20 and re.fullmatch(r"[\u4e00-\u9fffA-Za-z·• ]+", person)


@fuzz(200)
@given(any_text | st.sampled_from(["<div><br/></div>", "😡😡😡", "\r\n\r\n", "停电。" * 2000]))
def test_any_description_is_answered(text: str) -> None:
    ran("description: any text answered")
    clean, issue = tickets.validate_description(text)
    assert "\r" not in clean and len(clean) <= len(text)
    if issue is not None:
        assert CJK.search(issue.message)
        assert issue.blocking == (issue.code != "too_long")
    else:
        assert clean


# --- the Rasa form validators ----------------------------------------------------------------

SLOTS = ["company_name", "uscc", "contact_name", "contact_phone", "ticket_description",
         "ticket_topic", "ticket_confirm"]
slot_value = (any_text | st.none() | st.booleans() | st.integers() | st.floats()
              | st.lists(st.text(max_size=5), max_size=3)
              | st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2)
              | st.sampled_from(["tax", "纳税与缴费", "取消", "算了吧", "/deny"]))


def _tracker(text: str, intent: str, confidence: float) -> Tracker:
    latest: dict[str, Any] = {"text": text, "intent": {"name": intent, "confidence": confidence},
                              "entities": [], "intent_ranking": []}
    return Tracker("web:fuzz", {}, latest, [], False, None, {"name": "ticket_form"},
                   "action_listen")


@fuzz(250)
@given(st.sampled_from(SLOTS), slot_value, any_text | st.sampled_from(["取消", "不办了", "/deny"]),
       st.sampled_from(["inform", "tax", "financing", "deny", "nlu_fallback"]),
       st.floats(0, 1))
@example("ticket_topic", ["tax"], "x", "inform", 0.9)  # regression: TypeError, unhashable list
@example("ticket_topic", {"a": "b"}, "x", "inform", 0.9)
def test_form_validators_answer_any_slot_value(slot: str, value: Any, text: str, intent: str,
                                               confidence: float) -> None:
    ran("rasa form: validators answer any value")
    dispatcher = CollectingDispatcher()
    method = getattr(ValidateTicketForm(), f"validate_{slot}")
    result = method(value, dispatcher, _tracker(text, intent, confidence), {})
    assert isinstance(result, dict) and slot in result
    said = [m.get("text") for m in dispatcher.messages]
    assert all(isinstance(t, str) and CJK.search(t) for t in said), said
    if result.get("ticket_cancelled"):
        assert result[slot] is None and said == []
    elif value is not None and result[slot] is None:
        assert len(said) == 1, (slot, value, said)  # asked again, told why
