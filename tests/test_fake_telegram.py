"""Tests of the fake Telegram Bot API server, driven by a REAL python-telegram-bot 22
``Application`` talking HTTP to it (polling and webhook mode), plus raw-HTTP checks."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests import fake_telegram as fake_telegram_module
from tests.fake_telegram import USER_SEND_KINDS, FakeTelegram
from tests.telegram_helpers import (
    polling,
    polling_in_thread,
    ptb_builder,
    ptb_webhook_asgi,
    serve_asgi,
)

# The fixtures (a conftest.py would rather do `from tests.fake_telegram import fake_telegram`).
fake_telegram = fake_telegram_module.fake_telegram
fake_telegram_factory = fake_telegram_module.fake_telegram_factory

CHAT = 4242
SECRET = "hotline-Secret_42"
AGAIN = InlineKeyboardMarkup([[InlineKeyboardButton("再来一次", callback_data="again")]])


# ------------------------------------------------------------------ the tiny echo bot


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_html("<b>欢迎</b> 使用企业服务热线")


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    await message.reply_text(f"echo: {message.text}", reply_markup=AGAIN)


async def _pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("收到")
    await query.edit_message_text(f"pressed: {query.data}")


def echo_bot(app: Application) -> Application:  # type: ignore[type-arg]
    """/start greets (HTML), text is echoed with an inline button, presses edit the message."""
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    app.add_handler(CallbackQueryHandler(_pressed))
    return app


def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a condition with a deadline (sync)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


async def _auntil(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a condition with a deadline (async)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


# ------------------------------------------------------------------ (1) polling mode


async def test_polling_echo_and_inline_button(fake_telegram: FakeTelegram) -> None:
    fake = fake_telegram
    async with polling(echo_bot(ptb_builder(fake).build())):
        methods = [c.method for c in fake.calls]
        assert methods[:2] == ["getMe", "deleteWebhook"]

        fake.user_says(CHAT, "你好")
        reply = await fake.await_reply(CHAT, text="echo: 你好")
        assert reply.buttons == [["再来一次"]]
        assert reply.callback_data == ["again"]
        assert reply.message["from"]["id"] == fake.bot_id
        assert reply.message["chat"] == {"id": CHAT, "type": "private", "first_name": "测试用户"}

        fake.user_presses(CHAT, "again")
        answer = await fake.await_call("answerCallbackQuery", ok=True)
        assert answer.params["text"] == "收到"
        assert fake.callback_queries[-1].answer is not None
        edit = await fake.await_call("editMessageText", ok=True)
        assert (edit.params["chat_id"], edit.params["message_id"]) == (CHAT, reply.message_id)
        edited = fake.message(CHAT, reply.message_id)
        assert edited.text == "pressed: again"
        assert edited.inline_keyboard == []  # editMessageText without markup drops the keyboard
        assert len(edited.history) == 1

    get_updates = fake.calls_to("getUpdates")
    assert get_updates and all(c.encoding == "form" for c in get_updates)  # what PTB 22 sends
    assert fake.server_errors == []


async def test_polling_delivers_each_update_exactly_once(fake_telegram: FakeTelegram) -> None:
    fake = fake_telegram
    async with polling(echo_bot(ptb_builder(fake).build())):
        ids = [fake.user_says(CHAT, f"消息{i}") for i in range(3)]
        for i in range(3):  # consecutive waits read consecutive replies
            await fake.await_reply(CHAT, text=f"echo: 消息{i}")
        ids.append(fake.user_says(CHAT, "最后"))
        await fake.await_reply(CHAT, text="echo: 最后")
        assert [u["update_id"] for u in fake.pending_updates()] in ([], [ids[-1]])
    # Updater.stop() confirms the last batch with a final getUpdates(offset=...)
    assert fake.pending_updates() == []
    assert [fake.times_delivered(uid) for uid in ids] == [1, 1, 1, 1]
    assert fake.texts(CHAT) == ["echo: 消息0", "echo: 消息1", "echo: 消息2", "echo: 最后"]
    offsets = [c.params.get("offset") for c in fake.calls_to("getUpdates")]
    assert ids[-1] + 1 in offsets


def test_sync_api_with_bot_in_another_thread(fake_telegram: FakeTelegram) -> None:
    """Sync test code, bot in its own thread/loop (like a separate process)."""
    fake = fake_telegram
    with polling_in_thread(echo_bot(ptb_builder(fake).build())):
        fake.user_says(CHAT, "/start")
        greeting = fake.wait_for_reply(CHAT, contains="欢迎")
        assert greeting.text == "<b>欢迎</b> 使用企业服务热线"
        assert greeting.parse_mode == "HTML"
        assert greeting.plain_text == "欢迎 使用企业服务热线"
        fake.assert_no_reply(CHAT, within=0.2)  # exactly one answer to /start

        with pytest.raises(AssertionError) as failure:
            fake.wait_for_reply(CHAT, text="再见", timeout=0.2)
        message = str(failure.value)
        assert "No bot message with text == '再见' in chat 4242 within 0.2s" in message
        assert "The bot sent nothing to this chat after that point." in message
        assert "<b>欢迎</b>" in message  # listed among the earlier messages


async def test_await_reply_failure_lists_what_was_sent(fake_telegram: FakeTelegram) -> None:
    fake = fake_telegram
    async with polling(echo_bot(ptb_builder(fake).build())):
        before = fake.mark()
        fake.user_says(CHAT, "你好")
        await fake.await_reply(CHAT, since=before)  # since= does not move the cursor
        with pytest.raises(AssertionError) as failure:
            await fake.await_reply(CHAT, text="echo: 您好", timeout=0.3)
        message = str(failure.value)
        assert "No bot message with text == 'echo: 您好' in chat 4242" in message
        assert "after the last user action" in message and "'你好'" in message
        assert "text='echo: 你好'" in message and "再来一次(callback_data='again')" in message

        with pytest.raises(RuntimeError, match="await fake.await_reply"):
            fake.wait_for_reply(CHAT)  # the blocking twin refuses to freeze the loop


async def test_presses_must_hit_an_existing_button(fake_telegram: FakeTelegram) -> None:
    fake = fake_telegram
    with pytest.raises(AssertionError, match="has no messages"):
        fake.user_presses(CHAT, "again")
    async with polling(echo_bot(ptb_builder(fake).build())):
        fake.user_says(CHAT, "x")
        await fake.await_reply(CHAT, text="echo: x")
        with pytest.raises(AssertionError, match="no inline button with callback_data 'nope'"):
            fake.user_presses(CHAT, "nope")
        fake.user_presses(CHAT, button_text="再来一次")
        await fake.await_call("editMessageText", ok=True)


# ------------------------------------------------------------------ (2) webhook mode


async def test_webhook_mode_with_secret(fake_telegram: FakeTelegram) -> None:
    fake = fake_telegram
    app = echo_bot(ptb_builder(fake).updater(None).build())
    async with serve_asgi(ptb_webhook_asgi(app, secret=SECRET)) as base:
        url = f"{base}/telegram"
        assert await app.bot.set_webhook(url, secret_token=SECRET)
        assert (fake.webhook_url, fake.webhook_secret) == (url, SECRET)
        assert (await app.bot.get_webhook_info()).url == url

        update_id = fake.user_says(CHAT, "网页钩子")
        await fake.await_reply(CHAT, text="echo: 网页钩子")
        delivery = await fake.await_delivery(update_id)
        assert (delivery.status_code, delivery.secret, delivery.url) == (200, SECRET, url)
        assert fake.times_delivered(update_id) == 1

        fake.user_presses(CHAT, "again")
        await fake.await_call("editMessageText", ok=True)

        for bad_secret in (None, "wrong-secret"):
            forged = await fake.apost_to_webhook(secret=bad_secret)
            assert forged.status_code == 403
            assert app.update_queue.qsize() == 0  # rejected before reaching the Application
        accepted = await fake.apost_to_webhook(fake.build_text_update(CHAT, "手动"))
        assert accepted.status_code == 200
        await fake.await_reply(CHAT, text="echo: 手动")
        assert fake.sent(424242) == []  # the forged updates were never processed

        with pytest.raises(Conflict, match="webhook is active"):
            await app.bot.get_updates()

        assert await app.bot.delete_webhook()
        parked = fake.user_says(CHAT, "回到轮询")
        assert [u["update_id"] for u in fake.pending_updates()] == [parked]
        assert await app.bot.delete_webhook(drop_pending_updates=True)
        assert fake.pending_updates() == []
    assert len(fake.deliveries) == 5  # 2 queued + 3 manual


async def test_webhook_delivery_failure_is_recorded(fake_telegram: FakeTelegram) -> None:
    fake = fake_telegram
    app = echo_bot(ptb_builder(fake).updater(None).build())
    async with serve_asgi(ptb_webhook_asgi(app, secret=SECRET)) as base:
        await app.bot.set_webhook(f"{base}/telegram", secret_token="not-the-gateway-secret")
        update_id = fake.user_says(CHAT, "hi")
        delivery = await fake.await_delivery(update_id)
        assert delivery.status_code == 403
        info = await app.bot.get_webhook_info()
        assert info.last_error_message == "Wrong response from the webhook: 403"
        await fake.await_no_reply(CHAT, within=0.1)


# ------------------------------------------------------------------ (3) errors


def test_unknown_method_wrong_token_and_bad_paths(fake_telegram: FakeTelegram) -> None:
    fake = fake_telegram
    unknown = httpx.post(fake.api_url("frobnicate"), json={"x": 1})
    assert unknown.status_code == 400
    assert unknown.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: method not found",
    }
    wrong = httpx.post(fake.api_url("getMe", token="1:wrong"))
    assert (wrong.status_code, wrong.json()["description"]) == (401, "Unauthorized")
    me = httpx.get(fake.api_url("getme"))  # method names are case-insensitive
    assert me.json()["result"]["is_bot"] is True
    assert httpx.get(f"{fake.url}/nonsense").status_code == 404
    assert [c.method for c in fake.calls] == ["frobnicate", "getMe", "getMe"]
    assert [c.status_code for c in fake.calls] == [400, 401, 200]


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # RetryAfter
async def test_ptb_sees_telegram_like_errors(fake_telegram: FakeTelegram) -> None:
    fake = fake_telegram
    with pytest.raises(InvalidToken):
        await ptb_builder(fake, token="987654:WRONG").build().initialize()

    app = ptb_builder(fake).build()
    async with app:  # initialize (getMe) ... shutdown
        bot = app.bot
        with pytest.raises(BadRequest, match="(?i)method not found"):
            await bot.do_api_request("frobnicate")
        with pytest.raises(BadRequest, match="(?i)chat not found"):
            await bot.send_message(CHAT, "主动消息")
        fake.register_chat(CHAT)
        with pytest.raises(BadRequest, match='(?i)unsupported start tag "div" at byte offset 6'):
            await bot.send_message(CHAT, "您好<div>x</div>", parse_mode="HTML")
        with pytest.raises(BadRequest, match="(?i)character '.' is reserved"):
            await bot.send_message(CHAT, "价格 1.5 元", parse_mode="MarkdownV2")
        sent = await bot.send_message(CHAT, r"价格 1\.5 元 *粗体*", parse_mode="MarkdownV2")
        assert sent.text == "价格 1.5 元 粗体"
        with pytest.raises(BadRequest, match="(?i)message text is empty"):
            await bot.send_message(CHAT, "<b></b>", parse_mode="HTML")
        with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
            too_long = InlineKeyboardButton("x", callback_data="d" * 65)
            await bot.send_message(CHAT, "x", reply_markup=InlineKeyboardMarkup([[too_long]]))

        message = await bot.send_message(CHAT, "同一内容", reply_markup=AGAIN)
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await bot.edit_message_text("同一内容", CHAT, message.message_id, reply_markup=AGAIN)
        edited = await bot.edit_message_reply_markup(CHAT, message.message_id, reply_markup=None)
        assert not isinstance(edited, bool) and edited.reply_markup is None
        assert await bot.delete_message(CHAT, message.message_id)
        assert fake.message(CHAT, message.message_id).deleted
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await bot.edit_message_text("gone", CHAT, message.message_id)
        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await bot.answer_callback_query("123")

        fake.fail_next("sendMessage", retry_after=3)
        with pytest.raises(RetryAfter):
            await bot.send_message(CHAT, "限流")
        fake.block(CHAT)
        with pytest.raises(Forbidden, match="(?i)blocked by the user"):
            await bot.send_message(CHAT, "被拉黑")
        with pytest.raises(Forbidden):
            await bot.send_chat_action(CHAT, "typing")
        fake.block(CHAT, blocked=False)
        assert await bot.send_chat_action(CHAT, "typing")
        assert (await bot.get_chat(CHAT)).type == "private"
    assert fake.server_errors == []


async def test_commands_media_and_files_through_ptb(fake_telegram: FakeTelegram) -> None:
    fake = fake_telegram
    app = ptb_builder(fake).build()
    async with app:
        bot = app.bot
        assert await bot.set_my_commands([BotCommand("start", "开始"), BotCommand("help", "帮助")])
        assert fake.commands() == [
            {"command": "start", "description": "开始"},
            {"command": "help", "description": "帮助"},
        ]
        assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
        assert await bot.delete_my_commands()
        assert await bot.get_my_commands() == ()

        fake.register_chat(CHAT)
        photo = await bot.send_photo(CHAT, photo=b"\x89PNG fake", caption="<b>图</b>", parse_mode="HTML")
        recorded = fake.last_message(CHAT)
        assert recorded is not None and recorded.kind == "photo" and recorded.caption == "<b>图</b>"
        assert recorded.files["photo"].content == b"\x89PNG fake"
        assert fake.calls_to("sendPhoto")[0].encoding == "multipart"
        assert photo.caption == "图"
        again = await bot.send_photo(CHAT, photo=photo.photo[-1].file_id)  # re-send by file_id
        assert again.photo[-1].file_id == photo.photo[-1].file_id
        document = await bot.send_document(CHAT, document=b"%PDF-1.4", filename="指南.pdf")
        assert document.document is not None and document.document.file_name == "指南.pdf"
        downloaded = await (await bot.get_file(document.document.file_id)).download_as_bytearray()
        assert bytes(downloaded) == b"%PDF-1.4"


async def test_user_media_updates_parse_in_ptb(fake_telegram: FakeTelegram) -> None:
    fake = fake_telegram
    app = ptb_builder(fake).build()

    async def describe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        kind = next(k for k in ("animation", *USER_SEND_KINDS) if getattr(message, k, None))
        text = f"got {kind}"
        if message.document and kind == "document":
            file = await message.document.get_file()
            text += f" {bytes(await file.download_as_bytearray())!r}"
        await message.reply_text(text)

    app.add_handler(MessageHandler(~filters.TEXT, describe))
    async with polling(app):
        for kind in USER_SEND_KINDS:
            content = b"scan.pdf bytes" if kind == "document" else None
            fake.user_sends(CHAT, kind, content=content, file_name="scan.pdf")
            expected = "got document b'scan.pdf bytes'" if kind == "document" else f"got {kind}"
            await fake.await_reply(CHAT, text=expected)


# ------------------------------------------------------------------ (4) raw getUpdates


def test_get_updates_long_poll_times_out_when_empty(fake_telegram: FakeTelegram) -> None:
    started = time.monotonic()
    response = httpx.post(fake_telegram.api_url("getUpdates"), data={"timeout": "1"}, timeout=10)
    elapsed = time.monotonic() - started
    assert response.json() == {"ok": True, "result": []}
    assert 0.9 <= elapsed < 3


async def test_get_updates_returns_as_soon_as_an_update_arrives(
    fake_telegram: FakeTelegram,
) -> None:
    fake = fake_telegram
    url = fake.api_url("getUpdates")
    async with httpx.AsyncClient(timeout=30) as client:
        started = time.monotonic()
        poll = asyncio.create_task(client.post(url, json={"timeout": 20}))
        await _auntil(lambda: bool(fake.calls_to("getUpdates")))
        update_id = fake.user_says(CHAT, "来了")
        response = await asyncio.wait_for(poll, 5)
        assert time.monotonic() - started < 3
        updates = response.json()["result"]
        assert [u["update_id"] for u in updates] == [update_id]
        assert updates[0]["message"]["text"] == "来了"

        # Not confirmed yet: returned again, immediately, despite the long timeout.
        started = time.monotonic()
        repeat = await client.post(url, json={"timeout": 20})
        assert time.monotonic() - started < 1
        assert [u["update_id"] for u in repeat.json()["result"]] == [update_id]
        assert fake.times_delivered(update_id) == 2

        confirm = await client.post(url, json={"offset": update_id + 1, "timeout": 0})
        assert confirm.json()["result"] == []
        assert fake.pending_updates() == []


async def test_get_updates_conflict_and_allowed_updates(fake_telegram: FakeTelegram) -> None:
    fake = fake_telegram
    url = fake.api_url("getUpdates")
    async with httpx.AsyncClient(timeout=30) as client:
        first = asyncio.create_task(client.post(url, data={"timeout": "20"}))
        await _auntil(lambda: len(fake.calls_to("getUpdates")) == 1)
        second = asyncio.create_task(client.post(url, data={"timeout": "0"}))
        older = await asyncio.wait_for(first, 5)
        assert older.status_code == 409
        assert "terminated by other getUpdates request" in older.json()["description"]
        assert (await second).json()["result"] == []

        fake.user_says(CHAT, "按钮前")
        await client.post(fake.api_url("sendMessage"), data={"chat_id": str(CHAT), "text": "菜单", "reply_markup": json.dumps(AGAIN.to_dict())})
        press = fake.user_presses(CHAT, "again")
        text_only = await client.post(url, json={"allowed_updates": ["callback_query"]})
        assert [u["update_id"] for u in text_only.json()["result"]] == [press]


# ------------------------------------------------------------------ encodings, fixtures


def test_parameter_encodings(fake_telegram: FakeTelegram) -> None:
    fake = fake_telegram
    fake.register_chat(CHAT)
    url = fake.api_url("sendMessage")
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    assert httpx.post(url, json={"chat_id": CHAT, "text": "json", "reply_markup": markup}).json()["ok"]
    form = {"chat_id": str(CHAT), "text": "123", "reply_markup": json.dumps(markup)}
    assert httpx.post(url, data=form).json()["result"]["text"] == "123"  # stays a string
    assert httpx.get(url, params={"chat_id": CHAT, "text": "query"}).json()["ok"]
    upload = httpx.post(
        fake.api_url("sendDocument"),
        data={"chat_id": str(CHAT), "caption": "附件"},
        files={"document": ("a.txt", b"hello", "text/plain")},
    )
    assert upload.json()["result"]["document"]["file_name"] == "a.txt"
    assert [c.encoding for c in fake.calls] == ["json", "form", "query", "multipart"]
    sent = fake.sent(CHAT)
    assert [m.text for m in sent] == ["json", "123", "query", "附件"]
    assert sent[0].reply_markup == sent[1].reply_markup == markup
    assert isinstance(fake.calls[1].params["chat_id"], int)
    file_id = upload.json()["result"]["document"]["file_id"]
    path = httpx.post(fake.api_url("getFile"), data={"file_id": file_id}).json()["result"]["file_path"]
    assert httpx.get(f"{fake.base_file_url}{fake.token}/{path}").content == b"hello"


def test_factory_and_reset(fake_telegram_factory: Callable[..., FakeTelegram]) -> None:
    first = fake_telegram_factory()
    second = fake_telegram_factory(token="42:OTHER", strict_chats=False, bot_username="other_bot")
    assert first.port != second.port
    me = httpx.get(second.api_url("getMe")).json()["result"]
    assert (me["id"], me["username"]) == (42, "other_bot")
    sent = httpx.post(second.api_url("sendMessage"), data={"chat_id": "77", "text": "hi"})
    assert sent.json()["ok"]  # strict_chats=False: unknown chats are fine
    second.reset()
    assert second.calls == [] and second.sent() == []
    assert httpx.post(first.api_url("sendMessage"), data={"chat_id": "77", "text": "x"}).status_code == 400


def test_webhook_post_helper_in_sync_code(fake_telegram: FakeTelegram) -> None:
    """post_to_webhook against a webhook receiver running in another thread."""
    fake = fake_telegram
    received: list[tuple[str | None, dict[str, object]]] = []
    ready = threading.Event()
    holder: dict[str, object] = {}

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def hook(request: Request) -> Response:
        received.append((request.headers.get("x-telegram-bot-api-secret-token"), await request.json()))
        return Response(status_code=204)

    async def main() -> None:
        stop = asyncio.Event()
        holder["loop"], holder["stop"] = asyncio.get_running_loop(), stop
        async with serve_asgi(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as base:
            holder["url"] = f"{base}/hook"
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        hook_url = str(holder["url"])
        response = httpx.post(fake.api_url("setWebhook"), data={"url": hook_url, "secret_token": "abc"})
        assert response.json() == {"ok": True, "result": True, "description": "Webhook was set"}
        update_id = fake.user_says(CHAT, "推送")
        assert fake.wait_for_delivery(update_id).status_code == 204
        manual = fake.post_to_webhook(secret=None)
        assert manual.status_code == 204 and manual.secret is None
        _until(lambda: len(received) == 2)
        assert received[0][0] == "abc" and received[0][1]["update_id"] == update_id
        assert received[1][0] is None
        assert fake.webhook_info()["pending_update_count"] == 0
    finally:
        loop = holder["loop"]
        assert isinstance(loop, asyncio.AbstractEventLoop)
        loop.call_soon_threadsafe(holder["stop"].set)  # type: ignore[attr-defined]
        thread.join(10)
