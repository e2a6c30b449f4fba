"""Pushed notices reach a Traditional writer's web chat in Traditional (text and buttons)."""

from __future__ import annotations

from bot.outbox_web import web_frame
from hotline.outbox import Claimed


def _row() -> Claimed:
    return Claimed(id=1, conversation_id="web:x", channel="web", kind="ticket.resolved",
                   text="您的诉求已办结，请评价", buttons=[{"title": "满意", "payload": "/x"}],
                   attempts=0)


def test_a_notice_in_the_writers_script() -> None:
    simplified = web_frame(_row())["messages"][0]
    assert simplified["text"] == "您的诉求已办结，请评价"
    traditional = web_frame(_row(), traditional=True)["messages"][0]
    assert traditional["text"] == "您的訴求已辦結，請評價"
    assert traditional["buttons"] == [{"title": "滿意", "payload": "/x"}]
