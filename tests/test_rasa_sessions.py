"""A message's metadata does not start a Rasa session of its own (issue 15).

Rasa 3.6 records the metadata of a session's first message as a slot *before*
``action_session_start``; its Redis tracker store splits a conversation at that action, so
every retrieve of a gateway's chat (the gateway sends log ids as metadata) rebuilt two
sessions and every save merged them back event by event. :mod:`hotline.rasa_start` starts
sessions without that slot; the message keeps its metadata, where the action server reads
the log ids. Runs in the Rasa environment, in a process of its own (the model is loaded)."""

from __future__ import annotations

from tests.test_startup_heap import RASA_PYTHON, _run


def test_a_session_started_with_metadata_stays_one_session() -> None:
    out = _run(RASA_PYTHON, """
import asyncio, json
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.trackers import get_trackers_for_conversation_sessions
from hotline import rasa_start

rasa_start.install()
agent = Agent.load("models/current.tar.gz")
metadata = {"log": {"conversation": "web:#0123456789", "request_id": "0123456789abcdef"}}

async def sessions(update, sender):
    tracker = await agent.processor.get_tracker(sender)
    await update(agent.processor, tracker, None, metadata)
    return [type(e).__name__ for e in tracker.events], \\
        len(get_trackers_for_conversation_sessions(tracker))

async def main():
    patched = MessageProcessor._update_tracker_session
    before = await sessions(patched.__wrapped__, "before")
    after = await sessions(patched, "after")
    # the message itself keeps its metadata (the action server's log ids)
    await agent.processor.log_message(UserMessage("你好", sender_id="msg", metadata=metadata))
    tracker = await agent.processor.get_tracker("msg")
    user = [e for e in tracker.events if type(e).__name__ == "UserUttered"]
    return {"before": before, "after": after, "user_metadata": user[-1].metadata,
            "sessions_msg": len(get_trackers_for_conversation_sessions(tracker))}

print(json.dumps(asyncio.run(main())))
""")
    events, count = out["before"]
    assert events[0] == "SlotSet" and count == 2, out  # Rasa's own: the slot a session alone
    events, count = out["after"]
    assert events[:2] == ["ActionExecuted", "SessionStarted"] and count == 1, out
    assert out["user_metadata"]["log"]["request_id"] == "0123456789abcdef", out
    assert out["sessions_msg"] == 1, out
