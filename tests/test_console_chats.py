"""The operators' chat pages over HTTP: queue, take, reply, files, ticket, hand back, close."""

from __future__ import annotations

import re
import threading

from sqlalchemy import select

from hotline import handoff, transcripts
from hotline.db import session_scope
from hotline.handoff import Mode
from hotline.models import NotificationOutbox, Ticket, TranscriptMessage
from tests.console_helpers import ConsoleHarness

CONV = "tg:4242"


def _say(harness: ConsoleHarness, text: str, conv: str = CONV) -> None:
    with session_scope(harness.db_url) as session:
        transcripts.add(session, conv, "telegram", "in", "enterprise", text)


def _queued(harness: ConsoleHarness, conv: str = CONV) -> None:
    _say(harness, "我们厂的施工许可证报上去三个月了还没批下来，材料不全又不说缺什么", conv)
    _say(harness, "转人工", conv)
    handoff.request_human(harness.redis, conv)


def _post(client, url: str, **data):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": client.csrf, **data})


def _outbox(harness: ConsoleHarness) -> list[NotificationOutbox]:
    with session_scope(harness.db_url) as session:
        rows = session.scalars(select(NotificationOutbox).order_by(NotificationOutbox.id)).all()
        session.expunge_all()
        return list(rows)


def test_queue_lists_waiting_chats_and_take_tells_the_enterprise(console_app: ConsoleHarness) -> None:
    _queued(console_app)
    op = console_app.login("op1")
    page = op.get("/console/queue")
    assert page.status_code == 200
    assert CONV in page.text and "企业要求转人工" in page.text and "接入" in page.text
    taken = _post(op, f"/console/chats/{CONV}/take")
    assert taken.status_code == 303
    assert handoff.state_of(console_app.redis, CONV).operator == "op1"
    notices = _outbox(console_app)
    assert notices[-1].kind == "handoff.claimed" and "李客服" in notices[-1].text
    assert console_app.delivered == [CONV]
    chat = op.get(taken.headers["location"])
    assert "施工许可证报上去三个月" in chat.text  # the history, bot turns and all
    assert "正在接待：李客服 1 个" in op.get("/console/queue").text
    assert 'id="reply-form"' in chat.text


def test_second_operator_cannot_take_or_reply(console_app: ConsoleHarness) -> None:
    _queued(console_app)
    op1, op2 = console_app.login("op1"), console_app.login("op2")
    assert _post(op1, f"/console/chats/{CONV}/take").status_code == 303
    again = _post(op2, f"/console/chats/{CONV}/take")
    assert again.status_code == 409 and "由客服 李客服 接待" in again.text
    refused = _post(op2, f"/console/chats/{CONV}/reply", text="我来回答")
    assert refused.status_code == 409 and "李客服" in refused.text
    assert not any(r.kind == "operator.message" for r in _outbox(console_app))


def test_two_operators_claiming_at_the_same_instant_one_wins(console_app: ConsoleHarness) -> None:
    _queued(console_app)
    clients = [console_app.login("op1"), console_app.login("op2")]
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def claim(client) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        codes.append(_post(client, f"/console/chats/{CONV}/take").status_code)

    threads = [threading.Thread(target=claim, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [303, 409]
    assert sum(r.kind == "handoff.claimed" for r in _outbox(console_app)) == 1


def test_reply_goes_through_the_outbox_and_is_escaped(console_app: ConsoleHarness) -> None:
    _queued(console_app)
    _say(console_app, "<script>alert(1)</script>")
    op = console_app.login("op1")
    _post(op, f"/console/chats/{CONV}/take")
    sent = _post(op, f"/console/chats/{CONV}/reply", text="您好，<b>请提供</b>受理回执编号")
    assert sent.status_code == 303
    row = _outbox(console_app)[-1]
    assert row.kind == "operator.message" and row.author == "operator:李客服"
    assert row.text == "人工客服（李客服）：您好，<b>请提供</b>受理回执编号"
    page = op.get(f"/console/chats/{CONV}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "待送达" in page and "&lt;b&gt;请提供" in page
    empty = _post(op, f"/console/chats/{CONV}/reply", text="   ")
    assert empty.status_code == 409 and "请输入回复内容" in empty.text
    long = _post(op, f"/console/chats/{CONV}/reply", text="长" * 4001)
    assert long.status_code == 409 and "4000" in long.text


def test_files_both_ways(console_app: ConsoleHarness) -> None:
    _queued(console_app)
    op = console_app.login("op1")
    _post(op, f"/console/chats/{CONV}/take")
    pdf = b"%PDF-1.4 fake but fine"
    sent = op.post(f"/console/chats/{CONV}/reply", data={"csrf_token": op.csrf, "text": ""},
                   files={"file": ("补正材料清单.pdf", pdf, "application/pdf")})
    assert sent.status_code == 303
    row = _outbox(console_app)[-1]
    assert row.attachment_id is not None and row.text.endswith("请查收文件。")
    got = op.get(f"/console/attachments/{row.attachment_id}")
    assert got.content == pdf and "attachment" in got.headers["content-disposition"]
    exe = op.post(f"/console/chats/{CONV}/reply", data={"csrf_token": op.csrf, "text": "x"},
                  files={"file": ("tool.exe", b"MZ...", "application/x-msdownload")})
    assert exe.status_code == 409 and "不支持该文件类型" in exe.text
    assert op.get("/console/attachments/99999").status_code == 404


def test_hand_back_then_replying_is_refused(console_app: ConsoleHarness) -> None:
    _queued(console_app)
    op = console_app.login("op1")
    _post(op, f"/console/chats/{CONV}/take")
    back = _post(op, f"/console/chats/{CONV}/handback")
    assert back.status_code == 303
    assert handoff.mode_of(console_app.redis, CONV) is Mode.BOT
    assert _outbox(console_app)[-1].kind == "handoff.back"
    late = _post(op, f"/console/chats/{CONV}/reply", text="还在吗？")
    assert late.status_code == 409 and "已交回智能客服" in late.text


def test_replying_after_the_chat_was_closed(console_app: ConsoleHarness) -> None:
    _queued(console_app)
    op = console_app.login("op1")
    _post(op, f"/console/chats/{CONV}/take")
    assert _post(op, f"/console/chats/{CONV}/close").status_code == 303
    assert handoff.mode_of(console_app.redis, CONV) is Mode.CLOSED
    late = _post(op, f"/console/chats/{CONV}/reply", text="补充一句")
    assert late.status_code == 409 and "已结束" in late.text


def test_operator_picks_a_bot_chat(console_app: ConsoleHarness) -> None:
    _say(console_app, "营业执照怎么办", "web:0b7a4c7e-8a8e-4c59-9d77-3c3a5f0e0c11")
    op = console_app.login("op1")
    page = op.get("/console/queue").text
    assert "主动接入" in page
    conv = "web:0b7a4c7e-8a8e-4c59-9d77-3c3a5f0e0c11"
    assert _post(op, f"/console/chats/{conv}/take").status_code == 303
    assert handoff.state_of(console_app.redis, conv).reason == "operator_pick"


def test_open_a_ticket_from_the_chat(console_app: ConsoleHarness) -> None:
    _queued(console_app)
    op = console_app.login("op1")
    _post(op, f"/console/chats/{CONV}/take")
    page = op.get(f"/console/chats/{CONV}").text
    assert re.search(r'<option value="construction_permit" selected>', page)  # pre-filled
    assert "施工许可证报上去三个月" in page.split('id="ticket-form"')[1]
    bad = _post(op, f"/console/chats/{CONV}/ticket", topic="construction_permit",
                description="施工许可三个月未批", company="深圳市华兴精密制造有限公司",
                uscc="91440300MA5FHX7K1A", contact="张经理", phone="13800138000")
    assert bad.status_code == 409 and "校验位" in bad.text
    ok = _post(op, f"/console/chats/{CONV}/ticket", topic="construction_permit",
               description="施工许可三个月未批", company="深圳市华兴精密制造有限公司",
               uscc="91440300MA5FHX7K1T", contact="张经理", phone="13800138000")
    assert ok.status_code == 303
    with session_scope(console_app.db_url) as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.conversation_id == CONV and ticket.enterprise_id is not None
        assert ticket.status == "dispatched"
        assert ticket.events[0].actor == "staff:李客服"
    assert any(r.kind.startswith("ticket.") for r in _outbox(console_app))
    assert ticket.number in op.get(ok.headers["location"]).text


def test_roles_and_bad_ids(console_app: ConsoleHarness) -> None:
    dept = console_app.login("zhujian")
    assert dept.get("/console/queue").status_code == 403
    assert _post(dept, f"/console/chats/{CONV}/take").status_code == 403
    assert dept.get("/console/events").status_code == 403  # chat activity is not theirs
    op = console_app.login("op1")
    assert op.get("/console/chats/evil:<x>").status_code == 403
    forged = op.post(f"/console/chats/{CONV}/take", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    with session_scope(console_app.db_url) as session:
        assert session.scalar(select(TranscriptMessage.id)) is None


def test_messages_fragment_returns_only_new_lines(console_app: ConsoleHarness) -> None:
    _queued(console_app)
    op = console_app.login("op1")
    first = op.get(f"/console/chats/{CONV}/messages?after=0")
    last = int(first.headers["x-last-id"])
    assert first.headers["x-mode"] == "queued"
    _say(console_app, "还有一个问题：能不能加急")
    more = op.get(f"/console/chats/{CONV}/messages?after={last}")
    assert "能不能加急" in more.text and "施工许可证" not in more.text


def test_a_reply_the_enterprise_can_no_longer_receive_is_shown_as_undelivered(
        console_app: ConsoleHarness) -> None:
    _queued(console_app)
    op = console_app.login("op1")
    _post(op, f"/console/chats/{CONV}/take")
    _post(op, f"/console/chats/{CONV}/reply", text="请问还在吗？")
    with session_scope(console_app.db_url) as session:
        row = session.scalars(select(NotificationOutbox).where(
            NotificationOutbox.kind == "operator.message")).one()
        row.status = "failed"  # what delivery records once Telegram says the user blocked us
        row.last_error = "Forbidden: bot was blocked by the user"
    page = op.get(f"/console/chats/{CONV}").text
    assert "未送达：企业已停用或屏蔽机器人，消息无法送达" in page


def test_button_presses_read_as_buttons(console_app: ConsoleHarness) -> None:
    _say(console_app, "/greet")
    _say(console_app, "/open_ticket")
    _say(console_app, '/inform{"ticket_id":"T20261122-0001","rating":"s","round":0}')
    page = console_app.login("op1").get(f"/console/chats/{CONV}").text
    assert "［按钮：打开对话］" in page and "［按钮：提交诉求］" in page
    assert "［按钮：选择/评价］" in page and "/open_ticket" not in page


def test_operator_verifies_a_claimed_enterprise_and_reviews_its_changes(
        console_app: ConsoleHarness) -> None:
    from hotline import identity, tickets

    with session_scope(console_app.db_url) as session:
        identity.claim(session, "tg:1", uscc="91440300MA5FHX7K1T", name="深圳市华兴精密制造有限公司",
                       contact_name="张三", contact_phone="13800138000", actor="enterprise")
        identity.staff_verify(session, "tg:1", actor="staff:op1")
        number = tickets.create_ticket(session, topic="tax", description="留抵退税没到账",
                                       conversation_id="tg:1", enterprise_id=1).number
        identity.claim(session, CONV, uscc="91440300MA5FHX7K1T", name="华兴精密",
                       contact_name="李四", contact_phone="13900139000", actor="enterprise")
    _queued(console_app)
    op = console_app.login("op1")
    chat = op.get(f"/console/chats/{CONV}")
    assert "身份未核验" in chat.text and 'id="verify-identity"' in chat.text
    assert "联系人改为“李四”" in chat.text and "深圳市华兴精密制造有限公司" in chat.text
    assert _post(op, f"/console/chats/{CONV}/verify").status_code == 303
    chat = op.get(f"/console/chats/{CONV}")
    assert "身份已核验" in chat.text and "staff:李客服" in chat.text
    assert _outbox(console_app)[-1].kind == "identity.verified"
    with session_scope(console_app.db_url) as session:
        assert tickets.ticket_for(session, number, CONV).number == number
        change = identity.pending_changes(session, 1)[0].id
    assert _post(op, f"/console/chats/{CONV}/changes/{change}", decision="approve").status_code == 303
    with session_scope(console_app.db_url) as session:
        assert tickets.ticket_for(session, number, CONV).enterprise.contact_name == "李四"
    again = _post(op, f"/console/chats/{CONV}/changes/{change}", decision="approve")
    assert again.status_code == 409 and "已处理" in again.text
    # A department account may not verify anyone.
    dept = console_app.login("zhujian")
    assert _post(dept, f"/console/chats/{CONV}/revoke").status_code == 403
