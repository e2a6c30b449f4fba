"""The operators' Telegram group: a second console for escalated chats (optional).

When ``HOTLINE_OPERATOR_CHAT_ID`` is set, the gateway runs an :class:`OperatorGroup` next to
the outbox delivery. It is the same state machine as the web console, reached from Telegram:

- every transition to ``queued`` (:data:`hotline.handoff.EVENTS_KEY`) is announced in the
  group: channel, enterprise (if on file), reason, the enterprise's last few messages and a
  接入 button (callback ``opg:take:<conversation>``). When the chat is taken — from the
  console or from the group — the announcement is edited to say by whom and loses its
  button; when the enterprise stops waiting it says 企业已取消排队;
- pressing 接入 runs :func:`hotline.operator_chat.take` as operator ``tg-op-<user id>``
  (display name: the Telegram first + last name), so the enterprise gets the same
  "人工客服（X）已接入" notice; a second operator gets an alert naming the owner. The bot then
  posts a thread message in the group; replies to it (or to the announcement, or to any
  message the bot posted for that chat) go to the enterprise through
  :func:`hotline.operator_chat.reply`, owner only; ``/handback`` and ``/close`` as replies
  do what the console's buttons do;
- while a group operator owns a chat, the enterprise's new messages (the live stream,
  :data:`hotline.live.STREAM`) are posted into the group as replies to the thread message.

Telegram delivers to a bot in a group (with privacy mode on) only commands and replies to
the bot's own messages — which is all this package needs. Its modules:

- :mod:`~bot.operator_group.follower` — follows the two streams and decides what to post;
- :mod:`~bot.operator_group.posts` — announcements, thread messages, forwarded messages;
- :mod:`~bot.operator_group.handlers` — the PTB handlers (handler group -1, every update
  from the group stops there, so nothing an operator writes reaches Rasa);
- :mod:`~bot.operator_group.links` — which group message belongs to which conversation
  (Redis, ``hotline:opgroup:…``, 30 days);
- :mod:`~bot.operator_group.records` — what it reads from the database;
- :mod:`~bot.operator_group.group` — :class:`OperatorGroup`, all of it assembled.
"""

from bot.operator_group.group import OperatorGroup
from bot.operator_group.handlers import operator_of
from bot.operator_group.links import TAKE_PREFIX, public_ref, take_data
from bot.operator_group.posts import OPERATOR_PREFIX

__all__ = ["OPERATOR_PREFIX", "TAKE_PREFIX", "OperatorGroup", "operator_of", "public_ref",
           "take_data"]
