"""What enterprises really write, through the real stack (Telegram fake → gateway → Rasa with
the trained model → action server): letters, citizens' matters, junk, names in the form,
and the script of every reply."""

from __future__ import annotations

import pytest

from hotline import tickets
from hotline.db import session_scope
from tests.stack_helpers import Running

LETTER = (
    "尊敬的王局长：您好！我是K3县X镇做五金加工的个体户，去年在镇上租了厂房。今年三月起工业园区"
    "三天两头停电，供电所说是线路老化要改造，可到现在半年了还没动工，一停电生产线就得停，"
    "上个月因为停电延误交货被客户扣了两万多货款。恳请领导过问，督促供电部门尽快改造线路。此致敬礼！"
)
CITIZEN = (
    "市长您好！我是B2区某小区的业主，孩子今年六岁该上小学了，我们是去年买的房，户口也迁过来了，"
    "可是学校说我们不在划片范围内，要去五公里外的学校上学。请问划片是按什么标准定的？谢谢！"
)


@pytest.mark.parametrize(
    ("text", "intent"),
    [("12345", "inform"), ("null", "nlu_fallback"), ("{", "nlu_fallback"),
     ("👍", "affirm"), ("<script>alert('转人工')</script>", "nlu_fallback"),
     ("😡😡😡", "nlu_fallback"), ("[]", "nlu_fallback")],
)
def test_junk_is_junk(running: Running, text: str, intent: str) -> None:
    assert running.parse(text)["intent"]["name"] == intent


def test_a_letter_is_read_by_its_content(running: Running) -> None:
    parsed = running.parse(LETTER)
    assert parsed["intent"]["name"] == "utilities"
    assert (parsed.get("act") or {}).get("name") == "appeal"
    kinds = {(e["entity"], e["value"]) for e in parsed["entities"]}
    assert ("district", "局长") not in kinds
    assert all(e["entity"] != "ticket_id" for e in parsed["entities"])
    assert running.parse(CITIZEN)["intent"]["name"] == "out_of_scope"
    # Only names in registered form are companies: not a phrase that ends in 公司.
    sentence = running.parse("物业说是自来水公司的问题，想把个体户转成有限公司")
    assert [e for e in sentence["entities"] if e["entity"] == "company"] == []


def test_a_citizens_matter_is_pointed_to_12345(running: Running) -> None:
    reply = running.say(7101, CITIZEN)
    assert "12345" in reply.text
    running.fake.assert_no_reply(7101, within=1.0)  # no ticket offered


def test_digits_alone_are_not_goodbye(running: Running) -> None:
    reply = running.say(7102, "12345")
    assert "工单号" in reply.text


@pytest.mark.parametrize(("chat", "text"), [(7110, "陈先生"), (7111, "王女士"), (7112, "我姓陈")])
def test_a_name_alone_is_information_not_goodbye(running: Running, chat: int, text: str) -> None:
    """Found by a new user: 陈先生 typed with no form open got a goodbye."""
    assert running.parse(text)["intent"]["name"] == "inform"
    assert "请问有什么可以帮您" in running.say(chat, text).text


def test_names_and_registered_company_names_fill_the_form(running: Running) -> None:
    chat, fake = 7103, running.fake
    assert "描述您遇到的问题" in running.say(chat, "我要反映问题").text
    topic = running.say(chat, "园区三天两头停电，生产线老是被迫停工，供电所一直不给解决")
    if "请选择诉求类别" in (topic.text or ""):
        fake.user_presses(chat, '/inform{"ticket_topic":"utilities"}')
        topic = fake.wait_for_reply(chat, timeout=30)
    assert "企业的全称" in topic.text
    assert "统一社会信用代码" in running.say(chat, "东莞市长安镇鑫源五金制品有限公司").text
    assert "联系人" in running.say(chat, "91441900MA4UX3P8QN").text  # not on file yet
    assert "联系电话" in running.say(chat, "陈先生").text  # not read as "no"
    summary = running.say(chat, "13800138000")
    assert "东莞市长安镇鑫源五金制品有限公司" in summary.text and "陈先生" in summary.text
    fake.user_presses(chat, "/affirm")
    created = fake.wait_for_reply(chat, timeout=30)
    assert "诉求已受理" in created.text
    number = next(w for w in created.text.split() if w.startswith("工单号：")).split("：")[1]
    with session_scope(running.db_url) as s:
        ticket = tickets.ticket_for(s, number, f"tg:{chat}")
        assert ticket.contact_name == "陈先生"
        assert ticket.enterprise.name == "东莞市长安镇鑫源五金制品有限公司"  # type: ignore[union-attr]
    running.transcript(chat, "form_names")


def test_a_traditional_writer_keeps_traditional_through_codes_and_phones(running: Running) -> None:
    chat, fake = 7104, running.fake
    first = running.say(chat, "我們要反映問題")
    assert "問題" in first.text  # 問 is Traditional
    topic = running.say(chat, "園區三天兩頭停電，生產線老是被迫停工，供電所一直不給解決")
    if "請選擇訴求類別" in (topic.text or ""):
        fake.user_presses(chat, '/inform{"ticket_topic":"utilities"}')
        topic = fake.wait_for_reply(chat, timeout=30)
    running.say(chat, "深圳市南山區騰達科技有限公司")
    after_code = running.say(chat, "91440300MA5FHX7K1T")
    assert "聯繫人" in after_code.text or "聯系人" in after_code.text, after_code.text
    running.say(chat, "陳先生")
    summary = running.say(chat, "13800138000")
    assert "訴求信息" in summary.text, summary.text  # still Traditional after a phone number
    cancelled = running.say(chat, "取消")
    assert "已取消" in cancelled.text
    with session_scope(running.db_url) as s:
        assert tickets.open_tickets_for(s, f"tg:{chat}") == []


@pytest.mark.parametrize(("chat", "typed"), [(7105, "是的，提交诉求"), (7106, "好的"),
                                             (7107, "提交诉求")])
def test_a_typed_yes_to_the_offer_opens_the_form_with_the_letter(
        running: Running, chat: int, typed: str) -> None:
    """Found by a new user: 是的，提交诉求 typed instead of pressed got 好的。 and no form."""
    running.say(chat, LETTER)
    offer = running.fake.wait_for_reply(chat, timeout=30)
    assert "提交诉求" in [title for row in offer.buttons for title in row], offer.text
    asked = running.say(chat, typed)
    assert "企业的全称" in asked.text, asked.text  # the letter is the description: not asked again
    running.say(chat, "东莞市长安镇鑫源五金制品有限公司")
    running.say(chat, "91441900MA4UX3P8QN")
    running.say(chat, "陈先生")
    summary = running.say(chat, "13800138000")
    assert "供电所" in summary.text and "东莞市长安镇鑫源五金制品有限公司" in summary.text
    running.say(chat, "取消")


def test_a_problem_told_at_the_name_prompt_reaches_the_ticket(running: Running) -> None:
    """Found by a new user: 我要投诉 after the offer under the letter, then the complaint typed
    where the company's name was asked, got "不像企业名称" and was lost from the ticket."""
    chat, fake = 7108, running.fake
    complaint = "街道办的人一直推给财政局，财政局又推回街道办，来回踢皮球"
    running.say(chat, LETTER)
    fake.wait_for_reply(chat, timeout=30)  # the offer
    assert "企业的全称" in running.say(chat, "我要投诉").text
    told = running.say(chat, complaint)
    assert "已补充进诉求内容" in told.text, told.text
    asked = fake.wait_for_reply(chat, timeout=30)
    if "选择诉求类别" in (asked.text or ""):  # the model unsure of the complaint's topic
        fake.user_presses(chat, '/inform{"ticket_topic":"misconduct"}')
        asked = fake.wait_for_reply(chat, timeout=30)
    assert "企业的全称" in asked.text, asked.text
    running.say(chat, "东莞市长安镇鑫源五金制品有限公司")
    running.say(chat, "91441900MA4UX3P8QN")
    running.say(chat, "陈先生")
    summary = running.say(chat, "13800138000")
    assert "供电所" in summary.text and "踢皮球" in summary.text, summary.text
    fake.user_presses(chat, "/affirm")
    created = fake.wait_for_reply(chat, timeout=30)
    number = next(w for w in created.text.split() if w.startswith("工单号：")).split("：")[1]
    with session_scope(running.db_url) as s:
        ticket = tickets.ticket_for(s, number, f"tg:{chat}")
        assert "供电所" in ticket.description and complaint in ticket.description
    running.transcript(chat, "problem_told_at_the_name_prompt")
