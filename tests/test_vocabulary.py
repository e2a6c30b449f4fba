"""One vocabulary in the core: each label, key and helper defined once and used from there.

The copies had already started to disagree (网页聊天 vs 网页咨询, 排队中 vs 排队等待人工, four
local-midnight helpers); this test keeps a new copy from appearing in production code."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from hotline import channels, localtime, redis_keys, routing, sla
from hotline.handoff import MODE_ZH, REASON_ZH, Mode, Reason

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = [p for d in ("bot", "console", "hotline", "actions")
              for p in (ROOT / d).rglob("*.py") if "migrations" not in p.parts]


def _where(pattern: str) -> set[str]:
    found = set()
    regex = re.compile(pattern)
    for path in PRODUCTION:
        if regex.search(path.read_text(encoding="utf-8")):
            found.add(str(path.relative_to(ROOT)))
    return found


def test_channels_build_and_read_conversation_ids() -> None:
    assert channels.TELEGRAM.conversation(42) == "tg:42"
    assert channels.TELEGRAM.chat_id("tg:42") == "42"
    session = "0b9d6a3e-8d3c-4a55-9c1a-0d3e8f6a7b21"
    assert channels.channel_of(channels.WEB.conversation(session)) is channels.WEB
    assert channels.valid_conversation("tg:-100123") and not channels.valid_conversation("x:1")
    assert channels.channel_zh("web:" + session) == "网页聊天"


def test_mode_and_reason_labels_come_from_the_core() -> None:
    assert MODE_ZH[Mode.QUEUED] == Mode.QUEUED.zh == "排队中"
    assert all(reason.value in REASON_ZH for reason in Reason)


def test_one_local_midnight_one_light_wording_one_topic_label() -> None:
    midnight = localtime.local_midnight(date(2026, 11, 30))
    assert midnight.utcoffset() is not None and midnight.hour == 0
    taxonomy = routing.load_taxonomy()
    first = next(iter(taxonomy.topics))
    assert routing.topic_zh(first) == taxonomy.topics[first].zh
    assert routing.topic_zh("no_such_topic") == "no_such_topic"
    assert sla.light_words(sla.Light.RED)


def test_no_production_module_spells_its_own_copy() -> None:
    # Redis keys: built in hotline/redis_keys.py only.
    assert _where(r'"hotline:[a-z]') == {"hotline/redis_keys.py"}
    # Conversation ids: built and read through hotline/channels.py.
    assert _where(r'f"(tg|web):\{|startswith\("(tg|web):"\)|removeprefix\("(tg|web):"\)') \
        <= {"hotline/channels.py"}
    # Labels that had diverging copies.
    assert _where(r'"网页咨询"|"排队等待人工"') == set()
    assert _where(r'"排队中"') == {"hotline/handoff/states.py"}
    assert _where(r"def _?local_midnight\(") == {"hotline/localtime.py"}
    assert redis_keys.presence("web:x") == redis_keys.PRESENCE + "web:x"
