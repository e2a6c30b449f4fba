"""Verifying a chat as its enterprise (企业身份核验) in the conversation.

A button under the progress answer (``/inform{"verify_identity":"start"}``) sends a one-time
code to the enterprise's verified chats; the code typed back here verifies this chat. The
rules live in :mod:`hotline.identity`; these helpers only talk.
"""

from __future__ import annotations

import re

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from hotline import identity
from hotline.db import session_scope
from hotline.textnorm import normalize

VERIFY_BUTTON = {"title": "验证企业身份", "payload": '/inform{"verify_identity":"start"}'}
HUMAN_BUTTON = {"title": "转人工核验", "payload": "/request_human"}
CODE = re.compile(r"\s*(\d{6})\s*")

START_REPLIES = {
    identity.ChallengeResult.NO_CLAIM: (
        "您还没有登记过企业。提交诉求时填写企业名称和统一社会信用代码即可关联企业。", []),
    identity.ChallengeResult.ALREADY_VERIFIED: ("您的企业身份已核验，无需重复验证。", []),
    identity.ChallengeResult.NO_CHANNEL: (
        "贵企业还没有已核验的联系渠道，无法发送验证码。请点击“转人工核验”，工作人员会致电"
        "档案上的联系人核实后为您开通。", [HUMAN_BUTTON]),
    identity.ChallengeResult.TOO_MANY: (
        "验证码发送过于频繁，请一小时后再试，或点击“转人工核验”。", [HUMAN_BUTTON]),
}


def start_verification(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    with session_scope() as session:
        result, count = identity.start_challenge(session, tracker.sender_id)
    if result is identity.ChallengeResult.SENT:
        dispatcher.utter_message(
            text=f"验证码已发送到贵企业已核验的{count}个聊天会话（10分钟内有效）。"
                 "请向贵企业已开通的同事索取验证码，直接发送6位数字即可。")
        return
    text, buttons = START_REPLIES[result]
    dispatcher.utter_message(text=text, buttons=buttons or None)


def try_code(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """If a code is pending for this chat and the message is six digits, check it."""
    match = CODE.fullmatch(normalize(str(tracker.latest_message.get("text") or "")))
    if match is None:
        return False
    with session_scope() as session:
        if identity.pending_challenge(session, tracker.sender_id) is None:
            return False
        result, left = identity.check_code(session, tracker.sender_id, match.group(1))
        name = identity.claim_of(session, tracker.sender_id)
    if result is identity.CodeResult.VERIFIED:
        dispatcher.utter_message(
            text=f"验证成功，您已可以“{name.name if name else ''}”的身份查询、评价本企业的诉求。"
                 "发送“我的诉求办得怎么样了”即可查看。")
    elif result is identity.CodeResult.WRONG:
        dispatcher.utter_message(text=f"验证码不正确，还可以再试{left}次。")
    else:
        dispatcher.utter_message(text="验证码已失效（输错次数过多或已过期），如需验证请重新获取。",
                                 buttons=[VERIFY_BUTTON])
    return True
