"""As a person would: an enterprise asks for a human on Telegram (the fake Bot API) or in
the web chat; an operator in a real headless Chromium takes the chat, reads the history,
replies, sends a file, opens a ticket, and hands back; the bot then answers again."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.browser_helpers import Phone, login, shot
from tests.stack_helpers import ARTIFACTS, Running

pytestmark = pytest.mark.stack
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5d2b1a60000000049454e44ae426082")


def test_operator_takes_over_a_telegram_chat(running: Running, browser, staff) -> None:
    chat, conv = 7401, "tg:7401"
    fake = Phone(running)
    assert "企业服务热线" in fake.say(chat, "你好").text
    fake.user_says(chat, "我们厂的施工许可证报上去三个月了还没批下来，一直说材料不全又不说缺什么")
    fake.wait_for_reply(chat, contains="转人工", timeout=30)
    started = time.monotonic()
    fake.user_says(chat, "转人工")
    fake.wait_for_reply(chat, contains="已为您转接人工客服", timeout=30)

    page = login(browser, running, "op1")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    assert page.url.endswith("/console/queue")
    row = page.locator(f"tr[data-conversation='{conv}']").first
    row.wait_for()
    assert "企业要求转人工" in row.inner_text()
    shot(page, "01_queue")
    row.locator("button").click()
    page.wait_for_url(f"**/console/chats/{conv}**")
    log = page.locator("#chat-log")
    assert "施工许可证报上去三个月" in log.inner_text()  # the whole history, bot turns included
    assert "智能客服" in log.inner_text()
    fake.wait_for_reply(chat, contains="人工客服（李客服）已接入", timeout=30)

    page.fill("#reply-text", "您好，我是李客服。请问申报的是哪个项目？我先帮您查一下审批卡在哪个环节。")
    sent_at = time.monotonic()
    page.click("#send")
    first = fake.wait_for_reply(chat, contains="请问申报的是哪个项目", timeout=30)
    arrived = time.monotonic()
    assert first.text.startswith("人工客服（李客服）：")
    figures = {"request_to_first_operator_message_s": round(arrived - started, 2),
               "send_click_to_enterprise_s": round(arrived - sent_at, 2)}
    (ARTIFACTS / "handoff_latency.json").write_text(json.dumps(figures), encoding="utf-8")
    print("handoff latency:", figures)

    # The enterprise answers: the bot stays silent, the operator sees it live (SSE).
    fake.user_says(chat, "是新厂房项目，备案号 2026-088，材料上个月就交齐了")
    log.get_by_text("备案号 2026-088").wait_for(timeout=15_000)
    fake.user_sends(chat, "photo", content=PNG, caption="受理回执")
    log.locator("img").first.wait_for(timeout=15_000)
    fake.assert_no_reply(chat, within=1.5)

    # A file back to the enterprise.
    page.set_input_files("#reply-file", files=[{
        "name": "补正材料清单.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 list"}])
    page.fill("#reply-text", "补正材料清单发您，请对照准备。")
    page.click("#send")
    document = fake.wait_for_reply(chat, lambda m: m.kind == "document", timeout=30)
    assert document is not None
    shot(page, "02_chat")

    # A ticket from the chat, pre-filled with the enterprise's words.
    form = page.locator("#ticket-form")
    assert "施工许可证报上去三个月" in form.locator("textarea").input_value()
    assert form.locator("select[name=topic]").input_value() == "construction_permit"
    form.locator("input[name=company]").fill("深圳市鹏程新材料科技有限公司")
    form.locator("input[name=uscc]").fill("91440300MA5G2B8K33")  # not another test's enterprise
    form.locator("input[name=contact]").fill("张经理")
    form.locator("input[name=phone]").fill("13800138000")
    page.click("#open-ticket")
    flash = page.locator(".flash").first.inner_text()
    assert "已登记并分派" in flash
    number = flash.split("工单 ")[1].split(" ")[0]
    receipt = fake.wait_for_reply(chat, contains=number, timeout=30)
    assert "住房和城乡建设局" in receipt.text
    shot(page, "03_chat_ticket")

    # Hand back: the enterprise is told, and the bot answers the next message.
    page.click("#handback")
    page.wait_for_load_state()
    back = fake.wait_for_reply(chat, contains="智能客服继续为您服务", timeout=30)
    assert back.buttons == [["满意", "基本满意", "不满意"]]
    fake.user_presses(chat, back.callback_data[0])
    assert "感谢您的评价（满意）" in fake.wait_for_reply(chat, timeout=30).text
    tracker = httpx.get(f"{running.rasa_url}/conversations/{conv}/tracker",
                        params={"token": running.stack.rasa_token}, timeout=30).json()
    resumed = [e for e in tracker["events"] if e["event"] == "active_loop" and e.get("name") is None]
    assert resumed, "Rasa was not told of the hand-back"
    assert "企业服务热线" in fake.say(chat, "你好").text
    running.transcript(chat, "handoff_operator")
    assert errors == []  # no script error on any console page
    page.context.close()


def test_web_enterprise_leaves_and_gets_the_reply_when_back(running: Running, browser, staff) -> None:
    enterprise = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    chat_page = enterprise.new_page()
    chat_page.set_default_timeout(30_000)
    chat_page.goto(running.gateway_url + "/")
    chat_page.locator("#log").get_by_text("企业服务热线").first.wait_for()
    chat_page.fill("#t", "转人工")
    chat_page.keyboard.press("Enter")
    chat_page.locator("#log").get_by_text("已为您转接人工客服").wait_for()
    conv = "web:" + chat_page.evaluate("localStorage.getItem('hotline-sid')")

    page = login(browser, running, "op2")
    page.goto(f"{running.gateway_url}/console/chats/{conv}")
    page.click("#take")
    chat_page.locator("#log").get_by_text("人工客服（赵客服）已接入").wait_for()
    shot(chat_page, "04_webchat_with_operator")
    chat_page.close()  # the enterprise leaves
    # The gateway sees the socket close a moment after the tab does: look again until it has.
    presence = ""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        page.reload()
        presence = page.locator("#presence").inner_text()
        if "企业已离线" in presence:
            break
        time.sleep(0.3)
    assert "企业已离线" in presence
    page.fill("#reply-text", "您还在吗？申请表模板已发您，回来后可以查看。")
    page.click("#send")
    page.locator(".pending").get_by_text("申请表模板已发您").wait_for()
    shot(page, "05_chat_enterprise_left")

    back = enterprise.new_page()  # the enterprise comes back: the reply is waiting
    back.set_default_timeout(30_000)
    back.goto(running.gateway_url + "/")
    back.locator("#log").get_by_text("申请表模板已发您").wait_for()
    page.reload()
    assert page.locator(".pending").count() == 0
    enterprise.close()
    page.context.close()
