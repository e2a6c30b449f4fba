"""End to end: real Redis, real Rasa with the trained model, real action server, the
gateway; the enterprise's phone is the fake Bot API server (polling mode)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hotline import lifecycle, tickets
from hotline.db import session_scope
from hotline.kb import declined, feedback
from tests.stack_helpers import Running

pytestmark = pytest.mark.stack
OWNER, STRANGER = 7001, 7002


def test_greeting_gets_the_welcome(running: Running) -> None:
    reply = running.say(OWNER, "你好")
    assert "企业服务热线" in reply.text


def test_ticket_status_by_number_comes_from_the_database(running: Running) -> None:
    with session_scope(running.db_url) as s:
        ticket = tickets.create_ticket(
            s, topic="construction_permit", description="施工许可三个月没批下来",
            conversation_id=f"tg:{OWNER}", now=datetime.now(timezone.utc),
            notify=False,  # its receipt, pushed whenever the outbox polls, would race the replies
        )
        number = ticket.number
    reply = running.say(OWNER, f"帮我查一下工单{number}现在办到哪一步了")
    assert number in reply.text
    assert "已分派" in reply.text
    assert "住房和城乡建设局" in reply.text
    assert "绿灯" in reply.text


def test_another_enterprise_cannot_see_the_ticket(running: Running) -> None:
    with session_scope(running.db_url) as s:
        number = tickets.create_ticket(
            s, topic="tax", description="留抵退税迟迟不到账", conversation_id=f"tg:{OWNER}",
            notify=False,
        ).number
    reply = running.say(STRANGER, f"查询工单 {number} 的进度")
    assert "税务局" not in reply.text and "留抵" not in reply.text
    # "Not yours" answers exactly as "not found", so ticket numbers can't be probed.
    unknown = running.say(STRANGER, "查询工单 T20990101-0999 的进度")
    assert reply.text.replace(number, "#") == unknown.text.replace("T20990101-0999", "#")


def test_unknown_ticket_number(running: Running) -> None:
    reply = running.say(OWNER, "查一下T20990101-0999的进度")
    assert "没有查到您可以查看的工单 T20990101-0999" in reply.text


def test_non_text_update_is_answered_politely(running: Running) -> None:
    running.fake.user_sends(OWNER, "sticker")
    reply = running.fake.wait_for_reply(OWNER, timeout=30)
    assert "只能识别文字" in reply.text
    assert "企业服务热线" in running.say(OWNER, "在吗").text


def test_traditional_message_gets_the_same_understanding(running: Running) -> None:
    simplified = running.parse("我们公司资金周转不过来，想申请银行贷款")
    traditional = running.parse("我們公司資金周轉不過來，想申請銀行貸款")
    assert simplified["intent"]["name"] == traditional["intent"]["name"] == "financing"
    reply = running.say(OWNER, "請問你是機器人嗎")
    assert "機器人" in reply.text  # answered in the writer's script


FORM_CHAT, CANCEL_CHAT = 7003, 7004
USCC = "91440300MA5FHX7K1T"


def test_appeal_to_ticket_through_the_form(running: Running) -> None:
    fake = running.fake
    first = running.say(
        FORM_CHAT, "我们厂的施工许可证报上去三个月了还没批下来，一直说材料不全又不说缺什么")
    assert "住房和城乡建设局" in first.text
    offer = fake.wait_for_reply(FORM_CHAT, timeout=30)
    assert "/open_ticket" in offer.callback_data
    fake.user_presses(FORM_CHAT, "/open_ticket")
    assert "企业的全称" in fake.wait_for_reply(FORM_CHAT, timeout=30).text
    assert "统一社会信用代码" in running.say(FORM_CHAT, "深圳市华兴精密制造有限公司").text
    wrong = running.say(FORM_CHAT, USCC[:-1] + "A")  # wrong check digit
    assert "校验位不正确" in wrong.text
    assert "统一社会信用代码" in fake.wait_for_reply(FORM_CHAT, timeout=30).text
    assert "联系人" in running.say(FORM_CHAT, USCC).text
    assert "联系电话" in running.say(FORM_CHAT, "张经理").text
    bad_phone = running.say(FORM_CHAT, "138abc0000")
    assert "不能有字母" in bad_phone.text
    fake.wait_for_reply(FORM_CHAT, timeout=30)  # asked again
    summary = running.say(FORM_CHAT, "13800138000")
    assert "办理建筑许可" in summary.text and USCC in summary.text
    assert "施工许可证报上去三个月" in summary.text  # the first message is the description
    fake.user_presses(FORM_CHAT, "/affirm")
    created = fake.wait_for_reply(FORM_CHAT, timeout=30)
    assert "诉求已受理" in created.text and "住房和城乡建设局" in created.text
    number = next(w for w in created.text.split() if w.startswith("工单号：")).split("：")[1]
    with session_scope(running.db_url) as s:
        ticket = tickets.ticket_for(s, number, f"tg:{FORM_CHAT}")
        assert ticket.topic == "construction_permit"
        assert ticket.enterprise is not None and ticket.enterprise.uscc == USCC
        assert ticket.contact_phone == "13800138000"
    progress = running.say(FORM_CHAT, "我的诉求办得怎么样了")
    assert "在办诉求" in progress.text
    assert number in fake.wait_for_reply(FORM_CHAT, timeout=30).text

    # The enterprise is on file now: a second ticket does not ask for it again.
    again = running.say(FORM_CHAT, "我要反映个问题")
    assert "已识别到贵企业档案" in again.text and "华兴精密" in again.text
    assert "描述您遇到的问题" in fake.wait_for_reply(FORM_CHAT, timeout=30).text
    nxt = running.say(FORM_CHAT, "园区三天两头停电，生产线老是被迫停工，供电所一直不给解决")
    if "请选择诉求类别" in (nxt.text or ""):
        fake.user_presses(FORM_CHAT, '/inform{"ticket_topic":"utilities"}')
        nxt = fake.wait_for_reply(FORM_CHAT, timeout=30)
    assert "水电气网" in nxt.text and "华兴精密" in nxt.text
    fake.user_presses(FORM_CHAT, "/affirm")
    assert "诉求已受理" in fake.wait_for_reply(FORM_CHAT, timeout=30).text

    # The department signs for the first ticket and answers; the result reaches the chat
    # through the outbox at once, with the rating buttons (一事一评).
    with session_scope(running.db_url) as s:
        ticket = tickets.ticket_for(s, number, f"tg:{FORM_CHAT}")
        lifecycle.take(s, ticket, actor="staff:住建局王科长")
    assert "办理中" in fake.wait_for_reply(FORM_CHAT, timeout=30).text
    with session_scope(running.db_url) as s:
        ticket = tickets.ticket_for(s, number, f"tg:{FORM_CHAT}")
        lifecycle.resolve(s, ticket, "经核查，补正材料清单已于今日一次性告知贵司，许可已于当日核发。",
                          actor="staff:住建局王科长")
    result = fake.wait_for_reply(FORM_CHAT, timeout=30)
    assert "一次性告知贵司" in result.text
    assert [b for row in result.buttons for b in row] == ["满意", "基本满意", "不满意"]
    satisfied = next(d for d in result.callback_data if '"rating":"s"' in d)
    fake.user_presses(FORM_CHAT, satisfied)
    assert "感谢您对工单" in fake.wait_for_reply(FORM_CHAT, timeout=30).text
    fake.user_presses(FORM_CHAT, satisfied, message_id=result.message_id, strict=False)
    assert "已评价" in fake.wait_for_reply(FORM_CHAT, timeout=30).text
    with session_scope(running.db_url) as s:
        assert tickets.ticket_for(s, number, f"tg:{FORM_CHAT}").status == "rated"
    running.transcript(FORM_CHAT, "ticket_form_to_rating")


def test_cancel_the_form_leaves_no_ticket(running: Running) -> None:
    fake = running.fake
    assert "描述您遇到的问题" in running.say(CANCEL_CHAT, "我想提个诉求").text
    cancelled = running.say(CANCEL_CHAT, "算了，不提了")
    assert "已取消" in cancelled.text
    with session_scope(running.db_url) as s:
        assert tickets.open_tickets_for(s, f"tg:{CANCEL_CHAT}") == []
    assert "企业服务热线" in running.say(CANCEL_CHAT, "你好").text
    fake.assert_no_reply(CANCEL_CHAT, within=1.0)


KB_CHAT, LAW_CHAT, UNSURE_CHAT = 7005, 7006, 7007


def test_materials_question_is_answered_at_once_with_source(running: Running) -> None:
    answer = running.say(KB_CHAT, "想开个小饭馆，要办什么证，需要带哪些材料")
    assert answer.parse_mode == "HTML"
    assert "食品经营许可" in answer.text and "来源" in answer.plain_text
    assert "1." in answer.plain_text  # materials as a numbered list
    last = answer
    while not last.buttons:
        last = running.fake.wait_for_reply(KB_CHAT, timeout=30)
    assert [b for row in last.buttons for b in row] == [
        "查看完整办事指南", "有用", "没解决，提交诉求", "转人工"]
    running.fake.user_presses(KB_CHAT, button_text="查看完整办事指南")
    full = running.fake.wait_for_reply(KB_CHAT, timeout=30)
    text = full.plain_text or ""
    while "来源" not in text:
        text += running.fake.wait_for_reply(KB_CHAT, timeout=30).plain_text or ""
    assert "食品经营许可" in text and "所需材料" in text
    last = running.fake.wait_for_reply(KB_CHAT, timeout=30)
    while not last.buttons:
        last = running.fake.wait_for_reply(KB_CHAT, timeout=30)
    assert [b for row in last.buttons for b in row] == ["有用", "没解决，提交诉求", "转人工"]
    running.fake.user_presses(KB_CHAT, "/thank")
    assert "不客气" in running.fake.wait_for_reply(KB_CHAT, timeout=30).text
    with session_scope(running.db_url) as s:
        assert feedback.summary(s).get("curated:food_business_license") == (1, 0)
    running.transcript(KB_CHAT, "kb_materials")


def test_statute_question_cites_the_article(running: Running) -> None:
    answer = running.say(LAW_CHAT, "机关单位拖欠我们小企业的货款，法律上规定多长时间内必须付款？")
    text = answer.plain_text or ""
    while "来源" not in text:
        text += running.fake.wait_for_reply(LAW_CHAT, timeout=30).plain_text or ""
    assert "保障中小企业款项支付条例" in text
    running.transcript(LAW_CHAT, "kb_statute")


def test_no_good_answer_says_so_and_offers_a_ticket(running: Running) -> None:
    answer = running.say(UNSURE_CHAT, "请问申请火星基地入驻补贴需要满足什么条件？")
    assert "没有找到" in answer.text or "找不到" in answer.text
    offer = running.fake.wait_for_reply(UNSURE_CHAT, timeout=30)
    assert "/open_ticket" in offer.callback_data and "/request_human" in offer.callback_data
    running.transcript(UNSURE_CHAT, "kb_not_sure")
    with session_scope(running.db_url) as s:
        assert any("火星基地" in g.normalized for g in declined.top(s))


#: The four questions the issue tried as a new user, each in its own chat.
NEEDS = {
    7011: ("留抵退税怎么申请", ("留抵", "来源")),
    7012: ("创业担保贷款能贷多少、有没有贴息", ("贴息",)),
    7013: ("高新技術企業認定需要什麼條件", ("條件",)),
    7014: ("工业用地出让要多长时间", ("出讓", "出让")),
}


@pytest.mark.parametrize("chat", sorted(NEEDS))
def test_the_most_asked_needs_are_answered_from_sources(running: Running, chat: int) -> None:
    question, expected = NEEDS[chat]
    reply = running.say(chat, question)
    text = reply.plain_text or reply.text or ""
    last = reply
    while not last.buttons or "下面的" in (last.text or ""):
        last = running.fake.wait_for_reply(chat, timeout=30)  # runners-up come before 有用
        text += "\n" + (last.plain_text or last.text or "")
    assert any(word in text for word in expected), text
    if "来源" in text or "來源" in text:  # answered: cites a source, never a made-up figure
        assert "有用" in [b for row in last.buttons for b in row]
    running.transcript(chat, f"kb_need_{chat}")


