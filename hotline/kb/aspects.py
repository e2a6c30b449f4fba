"""What part of an entry a question asks for: conditions, materials, time, fees,
department, phone or steps.

"高新技术企业认定需要什么条件" wants the conditions, not the whole 一次性告知 list; the
reply leads with the asked part (:func:`hotline.kb.render.render_focused`) and keeps
the full list one tap away. A question may ask for several parts ("要什么材料，多久
能批下来"); they are answered in the order asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hotline.kb.models import Entry


@dataclass(frozen=True, slots=True)
class Aspect:
    name: str
    label: str  # the section heading in replies
    pattern: re.Pattern[str]


ASPECTS: tuple[Aspect, ...] = (
    Aspect("eligibility", "办理条件", re.compile(
        r"(条件|资格|门槛|要求是|符合什么|什么样的企业|哪些企业|谁可以|能不能申请|可以申请吗|够不够格|标准)"
    )),
    Aspect("materials", "所需材料", re.compile(
        r"(材料|资料|带什么|带哪些|准备什么|准备哪些|交什么|要交哪些|提交什么|提交哪些|证件|"
        r"要哪些东西|带些什么|需要什么东西|需要哪些东西)"
    )),
    Aspect("time_limit", "办理时限", re.compile(
        r"(多久|多长时间|几天|几个工作日|时限|期限|多少天|什么时候能|多快|要多长|时间多长|"
        r"花多少时间|要等多久|批下来|办下来)"
    )),
    Aspect("fees", "收费", re.compile(r"(收费|收不收费|费用|多少钱|要钱|交钱|免费|花钱|收钱)")),
    Aspect("department", "办理部门", re.compile(
        r"(哪个部门|什么部门|哪个单位|哪里办|去哪|在哪|找谁|哪儿办|谁负责|谁管|归谁管|哪个窗口)"
    )),
    Aspect("phone", "咨询电话", re.compile(r"(电话|号码|热线|联系方式|怎么联系)")),
    Aspect("steps", "办理步骤", re.compile(r"(流程|步骤|程序|怎么走|环节|先做什么|顺序)")),
)
BY_NAME = {a.name: a for a in ASPECTS}


def asked(question: str) -> list[Aspect]:
    """The aspects ``question`` asks for, in the order they appear in it."""
    found: list[tuple[int, Aspect]] = []
    for aspect in ASPECTS:
        m = aspect.pattern.search(question)
        if m:
            found.append((m.start(), aspect))
    return [a for _, a in sorted(found, key=lambda pair: pair[0])]


#: How a statute article states each part (articles have no structured fields).
LAW_STATES: dict[str, re.Pattern[str]] = {
    "eligibility": re.compile(r"(条件|应当具备|符合下列|不得担任|有下列情形)"),
    "materials": re.compile(r"(提交|提供|材料|申请书|文件)"),
    "time_limit": re.compile(r"(日内|日起|个月内|年内|工作日|期限|期间届满|之日)"),
    "fees": re.compile(r"(费用|收费|收取|不得收取)"),
    "department": re.compile(r"(部门|机关|机构)"),
    "phone": re.compile(r"(?!)"),
    "steps": re.compile(r"(程序|步骤|依次|首先)"),
}


def states(entry: Entry, aspect: Aspect) -> bool:
    """Whether ``entry`` says something about ``aspect`` (a field, or an article's words)."""
    if entry.source == "laws":
        return LAW_STATES[aspect.name].search(entry.text) is not None
    return has(entry, aspect)


def has(entry: Entry, aspect: Aspect) -> bool:
    """Whether ``entry`` holds the part ``aspect`` names."""
    if aspect.name == "materials":
        return bool(entry.materials)
    if aspect.name == "steps":
        return bool(entry.steps)
    if aspect.name == "phone":
        return bool(entry.phone)
    return bool(getattr(entry, aspect.name, None))


def asks_beyond(question: str) -> bool:
    """Whether a clause of ``question`` that asks names no part (利息有补贴吗 beside 需要什么
    条件): then the focused reply also gives the entry's summary, which answers it."""
    from hotline.kb.decide_words import asking_spans

    return any(
        not any(a.pattern.search(question, s, e) for a in ASPECTS)
        for s, e in asking_spans(question)
    )


def answerable_aspects(question: str, entry: Entry) -> list[Aspect]:
    """Asked aspects the entry can answer (empty: reply with the whole entry)."""
    return [a for a in asked(question) if has(entry, a)]
