"""Policy answers that are right or honestly declined: glosses, the answer-or-decline
decision, answering the asked part, the declined-questions log, and the retrieval
floors on the project's own question sets (held out from everything the index reads).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import tickets as ticket_actions
from actions import topics as topic_actions
from hotline import db
from hotline.kb import decide, declined, rerank, rerank_train
from hotline.kb import index as kb_index
from hotline.kb.aspects import asked
from hotline.kb.evaluate import evaluate, load_questions
from hotline.kb.numerals import canonical_article
from hotline.kb.render import render_focused
from hotline.kb.search import search
from hotline.kb.source_fields import CuratedError
from hotline.kb.statutes import load_laws
from hotline.kb.topics import topic_names
from hotline.models import KbDeclined
from tests.console_helpers import ConsoleHarness
from tests.kb_helpers import with_and_without

REPO = Path(__file__).resolve().parents[1]
KB = REPO / "kb"
DATA = REPO / "tests" / "data"
#: The project's own evaluation files: none of their text may reach the index.
HELD_OUT = sorted(DATA.glob("kb_*.jsonl"))
WINDOW = 12  # characters: a stretch this long shared with kb/ would be a leak


@pytest.fixture(scope="module")
def idx(tmp_path_factory: pytest.TempPathFactory) -> kb_index.KbIndex:
    return kb_index.load(kb=KB, out_root=tmp_path_factory.mktemp("kb_answers_index"))


# ----------------------------------------------------------------------------- glosses


def test_glosses_name_real_articles_and_are_indexed_with_them() -> None:
    files = sorted((KB / "glosses").glob("*.yml"))
    assert files, "kb/glosses/ holds the everyday phrasings of statute articles"
    laws = {e.id: e for e in load_laws(KB)}
    glossed = [e for e in laws.values() if len(e.keywords) > 1]
    assert len(glossed) >= 500
    for e in glossed[:50]:
        assert e.keywords[0] in e.source_line  # the law's short name stays first


def test_a_gloss_for_a_missing_article_is_an_error(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(KB / "sources", kb / "sources")
    (kb / "glosses").mkdir()
    (kb / "glosses" / "增值税法(2024-12-25).yml").write_text(
        "law: 增值税法(2024-12-25)\narticles:\n  第九百条: [不存在的条文]\n", encoding="utf-8"
    )
    with pytest.raises(CuratedError, match="第九百条"):
        load_laws(kb)


def _kb_text() -> str:
    parts = [p.read_text(encoding="utf-8") for p in sorted((KB / "glosses").glob("*.yml"))]
    parts += [p.read_text(encoding="utf-8") for p in sorted((KB / "curated").glob("*.yml"))]
    parts.append((KB / "synonyms.yml").read_text(encoding="utf-8"))
    parts += [p.read_text(encoding="utf-8") for p in sorted((KB / "training").glob("*.jsonl"))]
    return re.sub(r"\s+", "", "\n".join(parts))


def test_held_out_questions_never_reach_the_knowledge_base() -> None:
    """No question of the evaluation files, nor a 12-character stretch of one, appears
    in what the index is built from (glosses, curated entries, synonyms) nor in the
    reranker's training questions (``kb/training``)."""
    kb_text = _kb_text()
    assert len(HELD_OUT) >= 4
    leaks: list[str] = []
    for path in HELD_OUT:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            q = re.sub(r"[\s，。？！、,.?!]+", "", json.loads(line)["question"])
            windows = [q[i : i + WINDOW] for i in range(max(1, len(q) - WINDOW + 1))]
            if any(len(w) >= min(WINDOW, len(q)) and w in kb_text for w in windows):
                leaks.append(f"{path.name}: {q}")
    assert not leaks, leaks[:5]


# ------------------------------------------------------------------ answer or decline


@pytest.mark.parametrize(
    "question",
    [
        "数字人民币对公钱包怎么开通",
        "今天广州限行尾号是几",
        "怎么自学Python编程",
        "今天天气怎么样",
    ],
)
def test_subjects_the_knowledge_base_lacks_are_declined(
    idx: kb_index.KbIndex, question: str
) -> None:
    result = search(question, k=3, index=idx)
    assert not result.confident, (result.top.entry.title if result.top else None, result.reason)
    assert result.reason


@pytest.mark.parametrize("question", ["帮我推荐几家靠谱的装修公司", "下周深圳会不会下雨",
                                      "你是机器人吗", "哪家快递公司寄文件最便宜"])
def test_requests_that_are_no_policy_question_are_declined(
    idx: kb_index.KbIndex, question: str
) -> None:
    result = search(question, k=3, index=idx)
    assert not result.confident
    assert result.reason in {"not a policy question", "weak match"}, result.reason


def test_the_subject_of_a_named_programme_must_be_covered(idx: kb_index.KbIndex) -> None:
    """汽车以旧换新补贴: every word is in the corpus and the top entry is about 补贴, but
    not about cars: the subject (the words before 补贴) is not covered."""
    result = search("汽车以旧换新补贴在哪领", k=3, index=idx)
    assert not result.confident
    assert result.reason == "subject not covered", result.reason


def test_a_subject_the_corpus_contracts_with_its_head_is_covered(
    idx: kb_index.KbIndex,
) -> None:
    """利息有补贴吗: the programme entry says 贴息 (贴 of 补贴 + 息 of 利息), a contraction
    the corpus itself uses; the subject 利息 is covered by it, the question answered."""
    result = search("申请创业担保贷款需要什么条件？利息有补贴吗？", k=3, index=idx)
    assert result.confident, (result.reason, result.missing)
    assert result.top is not None and "创业担保贷款" in result.top.entry.title
    assert "贴息" in decide.contractions("利息", "补贴", idx.idf)
    assert decide.contractions("利息", "补贴", {"利息"}) == ()  # only words the corpus uses
    # a subject the corpus does not contract stays uncovered
    assert not search("汽车以旧换新补贴在哪领", k=3, index=idx).confident


@pytest.mark.parametrize(
    ("question", "places"),
    [("香港的利得税怎么算", ("香港",)), ("派人去日本出差，日本签证多久能出", ("日本",)),
     ("越南那边的企业所得税优惠有哪些", ("越南",)),
     ("我们是香港老板投资的外资企业，利润能不能汇回香港", ()),  # a party, a destination
     ("有个新加坡的合伙人入伙，外资合伙的咋登记", ()), ("经常去香港谈生意，商务签注怎么办", ())],
)
def test_another_jurisdictions_rules_are_recognised(question: str, places: tuple[str, ...]) -> None:
    from hotline.kb.elsewhere import elsewhere

    assert elsewhere(question, [(0, len(question))], "") == places
    assert elsewhere(question, [(0, len(question))], "香港 日本 越南") == ()  # the entry names it


def test_a_question_on_another_jurisdictions_tax_is_declined(idx: kb_index.KbIndex) -> None:
    result = search("台湾的统一发票怎么开", k=3, index=idx)
    assert not result.confident and result.reason == "another jurisdiction", result.reason


@pytest.mark.parametrize(
    "question", ["就业见习补贴每人每月多少", "有多少奖金", "门槛多少", "最低可以交多少", "公积金可以按5%交吗",
                 "车船税一年要交多少", "积分入学要多少分才够"]
)
def test_figure_questions_in_everyday_words(question: str) -> None:
    assert decide.asks_amount(question)


@pytest.mark.parametrize("question", ["保证金多少天内退", "有多少家银行能办", "每月多少号申报",
                                      "办好要等多少分钟"])
def test_counts_of_days_or_places_are_no_figure_question(question: str) -> None:
    assert not decide.asks_amount(question)


def test_a_function_character_glued_to_a_word_is_no_foreign_subject(
    idx: kb_index.KbIndex,
) -> None:
    """jieba guesses 能代 (能 + 代) in "网上能代开不" and 证办 in "取水证办下来": no subject
    the corpus lacks. A real word it knows (网吧, 华为) is never cut down."""
    assert decide.unglue("证办", 3, 5, idx.idf) == ("证", 3, 4)
    assert decide.unglue("网吧", 0, 2, idx.idf, dictionary_word=True) == ("网吧", 0, 2)
    words = {w.text: w for w in decide.question_words(
        "小规模没领发票，网上能代开不", idx.tokenizer, idx.synonyms, idx.idf, idx.corpus_text)}
    assert "能代" not in words and "代" in words


def test_subject_words_come_before_the_kind_of_thing_asked_for(idx: kb_index.KbIndex) -> None:
    words = {w.text: w for w in decide.question_words(
        "火星基地入驻补贴怎么申请，去房管部门备案吗", idx.tokenizer, idx.synonyms, idx.idf,
        idx.corpus_text)}
    assert words["火星"].subject and words["基地"].subject
    assert not words["补贴"].subject and not words["申请"].subject  # generic policy words
    office = [w for w in words.values() if "房管" in w.text]
    assert office and not any(w.subject for w in office)  # an office, not what is asked about


def test_named_lists_certificates_and_quotas_have_a_subject(idx: kb_index.KbIndex) -> None:
    """证书, 目录, 配额 … name the kind of thing asked for like 补贴 does: the words before
    them (绿色电力证书, 医保目录) are the subject the entry must cover."""
    words = {w.text: w for w in decide.question_words(
        "绿色电力证书怎么买", idx.tokenizer, idx.synonyms, idx.idf, idx.corpus_text)}
    assert words["绿色"].subject and words["电力"].subject and not words["证书"].subject
    result = search("RCEP原产地证书去哪里办", k=3, index=idx)
    assert not result.confident, result.reason


def test_words_of_the_background_do_not_decline_the_question(idx: kb_index.KbIndex) -> None:
    """The clauses before the question tell who asks (a hardware workshop with rented
    machines): words the corpus never uses there are no subject the corpus lacks."""
    question = "我们做五金加工的，机器设备是租来的，生意差，能不能办歇业"
    result = search(question, k=3, index=idx)
    assert result.confident, (result.reason, result.missing)
    assert result.top is not None and "歇业" in result.top.entry.title
    words = {w.text: w for w in decide.question_words(
        question, idx.tokenizer, idx.synonyms, idx.idf, idx.corpus_text)}
    assert not words["五金"].asked and words["歇业"].asked


@pytest.mark.parametrize(
    "question",
    ["深圳的创业担保贷款最多能贷多少", "医保门诊报销比例是多少", "个体户的定额税每个月多少钱",
     "今年稳岗返还比例是多少"],
)
def test_a_figure_no_source_states_is_never_given(idx: kb_index.KbIndex, question: str) -> None:
    """Declined, or answered by a curated entry on the subject that says where the figure
    is set — never by an entry that states no figure at all."""
    result = search(question, k=3, index=idx)
    if result.confident:
        assert result.top is not None and result.top.entry.source == "curated"
        text = result.top.entry.text + (result.top.entry.summary or "")
        assert "为准" in text or "未收录" in text, text
        assert not re.search(r"\d+(\.\d+)?\s*(万|元|%)", text), text


def test_a_figure_must_be_about_what_is_asked(idx: kb_index.KbIndex) -> None:
    """个人所得税法 第六条 names 赡养老人 and states 六万元 — of the basic deduction, in another
    sentence: the asked amount is not in the source."""
    result = search("员工的个人所得税专项附加扣除，赡养老人每月能扣多少", k=3, index=idx)
    assert result.top is not None and result.top.entry.article == "第六条"
    assert not result.confident and result.reason == decide.FIGURE_NOT_IN_SOURCE
    # the deduction it does state is answered
    stated = search("个税每年的基本减除费用是多少", k=3, index=idx)
    assert stated.confident and stated.top is not None, stated.reason
    assert "六万元" in stated.top.entry.text


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("注册公司需要什么材料", "开办有限责任公司（企业设立登记）"),
        ("员工试用期最长可以约定多久", None),
        ("想开个小饭馆，要办什么证", None),
    ],
)
def test_ordinary_questions_are_answered(
    idx: kb_index.KbIndex, question: str, title: str | None
) -> None:
    result = search(question, k=3, index=idx)
    assert result.confident, (result.reason, result.missing)
    if title:
        assert result.top is not None and result.top.entry.title == title


# ---------------------------------------------------------------- the asked part first


def test_asked_parts_are_found_in_the_order_asked() -> None:
    assert [a.name for a in asked("高新技术企业认定需要什么条件")] == ["eligibility"]
    names = [a.name for a in asked("要带什么材料，多久能批下来，去哪个部门办")]
    assert names == ["materials", "time_limit", "department"]
    assert asked("公司注册") == []


def test_focused_answer_leads_with_the_asked_part(idx: kb_index.KbIndex) -> None:
    entry = next(e for e in idx.entries if e.title == "内资有限责任公司设立登记")
    chunks = render_focused(entry, asked("要多长时间"))
    text = "\n".join(chunks)
    assert text.index("办理时限") < text.index("来源")
    assert "承诺1个工作日" in text and "所需材料" not in text


def test_a_clause_no_part_answers_brings_the_summary(idx: kb_index.KbIndex) -> None:
    """需要什么条件 asks for the conditions, 利息有补贴吗 for no part: the focused reply gives
    the summary (which speaks of 贴息) before the conditions."""
    from hotline.kb.aspects import asks_beyond

    question = "申请创业担保贷款需要什么条件？利息有补贴吗？"
    assert asks_beyond(question) and not asks_beyond("高新技术企业认定需要什么条件")
    entry = next(e for e in idx.entries if e.title.startswith("创业担保贷款与贴息"))
    text = "\n".join(render_focused(entry, asked(question), summary=True))
    assert "贴息" in text and text.index("贴息") < text.index("办理条件")
    assert "贴息" not in "\n".join(render_focused(entry, asked(question))).split("办理条件")[1]


# --------------------------------------------------------------------- the action path


def _tracker(text: str, intent: str, act: str = "consult",
             entities: list[dict[str, Any]] | None = None) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9},
              "entities": entities or [], "act": {"name": act}}
    return Tracker("web:kb-test", {}, latest, [], False, None, None, "action_listen")


def _run(action: Any, tracker: Tracker) -> tuple[list[dict[str, Any]], list[Any]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher.messages, events


@pytest.fixture
def scoped(db_url: str, idx: kb_index.KbIndex, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(topic_actions, "session_scope", lambda: db.session_scope(db_url))
    monkeypatch.setattr(topic_actions, "search",
                        lambda text, topic=None, k=3: search(text, topic=topic, k=k, index=idx))
    monkeypatch.setattr(topic_actions, "get_index", lambda: idx)
    return db_url


def test_every_decline_reason_has_a_chinese_label() -> None:
    """Each reason the search can give reaches the console's list in Chinese."""
    from hotline.kb import search as kb_search

    source = "\n".join(Path(m.__file__).read_text(encoding="utf-8")
                       for m in (decide, kb_search))
    given = set(re.findall(r'return False, "([a-z ]+)"', source))
    given |= {decide.FIGURE_NOT_IN_SOURCE, kb_search.UNLIKE_ANSWERED, "no words", "no match"}
    assert given and given <= set(declined.REASON_ZH), given - set(declined.REASON_ZH)


def test_declined_question_is_logged_and_offers_a_ticket(scoped: str) -> None:
    messages, _ = _run(topic_actions.ActionHandleTopic(),
                       _tracker("数字人民币对公钱包怎么开通", "financing"))
    assert messages[0]["response"] == "utter_kb_not_sure"
    payloads = [b["payload"] for b in messages[-1]["buttons"]]
    assert payloads == ["/open_ticket", "/request_human"]
    with db.session_scope(scoped) as session:
        rows = session.scalars(select(KbDeclined)).all()
        assert [r.question for r in rows] == ["数字人民币对公钱包怎么开通"]
        assert rows[0].topic == "financing" and rows[0].reason


def test_asked_part_first_and_the_full_guide_one_tap_away(scoped: str) -> None:
    messages, events = _run(topic_actions.ActionHandleTopic(),
                            _tracker("注册公司需要什么材料", "start_business"))
    html = [m["custom"]["html"] for m in messages if m.get("custom")]
    assert html and "所需材料" in html[0] and "办理时限" not in html[0]
    buttons = messages[-1]["buttons"]
    assert buttons[0]["title"] == "查看完整办事指南"
    entry_id = json.loads(buttons[0]["payload"].removeprefix("/inform"))["kb_full"]
    full, _ = _run(ticket_actions.ActionHandleInform(),
                   _tracker(buttons[0]["payload"], "inform", entities=[
                       {"entity": "kb_full", "value": entry_id}]))
    full_html = "\n".join(m["custom"]["html"] for m in full if m.get("custom"))
    assert "所需材料" in full_html and "办理时限" in full_html
    assert [b["title"] for b in full[-1]["buttons"]] == ["有用", "没解决，提交诉求", "转人工"]


@pytest.mark.parametrize("entry_id", ["curated:gone", "<script>alert(1)</script>", "x" * 5000])
def test_full_guide_of_an_entry_that_is_gone(scoped: str, entry_id: str) -> None:
    messages, _ = _run(ticket_actions.ActionHandleInform(), _tracker(
        "/inform" + json.dumps({"kb_full": entry_id}), "inform",
        entities=[{"entity": "kb_full", "value": entry_id}]))
    assert [m["response"] for m in messages] == ["utter_kb_full_gone"]


def test_a_huge_declined_question_is_stored_capped(scoped: str) -> None:
    question = "数字人民币钱包" * 1000
    messages, _ = _run(topic_actions.ActionHandleTopic(), _tracker(question, "financing"))
    assert messages[0]["response"] == "utter_kb_not_sure"
    with db.session_scope(scoped) as session:
        row = session.scalars(select(KbDeclined)).one()
        assert len(row.question) == declined.MAX_QUESTION and len(row.normalized) <= 200


def test_console_lists_declined_questions_with_counts(console_app: ConsoleHarness) -> None:
    from hotline.kb.models import SearchResult

    with db.session_scope(console_app.db_url) as session:
        for _ in range(3):
            declined.record(session, SearchResult(query="算力券怎么申领", normalized="算力券怎么申领",
                                                  reason="subject not in knowledge base",
                                                  missing=("算力券",)), "policy_benefit", "web:a")
        declined.record(session, SearchResult(query="<b>x</b>", normalized="<b>x</b>",
                                              reason="weak match"), None, "web:b")
    page = console_app.login("op1").get("/console/kb")
    assert page.status_code == 200
    section = page.text.split('id="declined"')[1].split("</section>")[0]
    assert "算力券怎么申领" in section and "<td>3</td>" in section and "算力券" in section
    assert "问的事项知识库没有收录" in section and "没有相近的内容" in section
    assert "subject not in knowledge base" not in section  # staff read Chinese
    assert section.index("算力券怎么申领") < section.index("&lt;b&gt;x&lt;/b&gt;")
    assert "<b>x</b>" not in section


# ------------------------------------------------------------------- retrieval floors


@pytest.mark.parametrize(
    ("name", "floors"),
    [
        # measured cited hit@1 / hit@3 / declined 0.830 / 0.955 / 0.045 and 0.648 / 0.799 /
        # 0.089 with the dense features and the close-call priors (0.786 / 0.929 / 0.054 and
        # 0.570 / 0.776 / 0.095 before; before the subject rule and the reranker's
        # asked_coverage: hit@3 0.938 / 0.080 and 0.749 / 0.145; without a reranker
        # 0.902 / 0.080 and 0.682 / 0.173)
        ("kb_questions.jsonl", {"cited_hit_at_1": 0.82, "cited_hit_at_3": 0.95, "declined": 0.06}),
        # The learned second opinion (hotline.kb.answerable) declines 4 more statute questions
        # (0.089 → 0.112), 3 of them with a wrong first entry; hence 0.12 (0.10 before it).
        ("kb_questions_statutes.jsonl",
         {"cited_hit_at_1": 0.64, "cited_hit_at_3": 0.79, "declined": 0.12}),
    ],
)
def test_answerable_sets_meet_their_floors(
    idx: kb_index.KbIndex, name: str, floors: dict[str, float]
) -> None:
    summary = evaluate(load_questions(DATA / name), index=idx).summary()
    assert summary["cited_hit_at_1"] >= floors["cited_hit_at_1"], summary
    assert summary["cited_hit_at_3"] >= floors["cited_hit_at_3"], summary
    assert summary["declined"] <= floors["declined"], summary


def test_unanswerable_set_is_mostly_declined(idx: kb_index.KbIndex) -> None:
    # measured 0.969 with the question prior (hotline.kb.question_prior) in the learned second
    # opinion (0.922 with a prior over the sentence vector instead, 0.844 with the sentence
    # features alone, 0.875 before them; 0.812 when the model came, 0.797–0.844 with
    # other seeds), 0.734 with the rules alone (0.703 before a figure question stopped being
    # answered by an entry saying where the figure is set, 0.672 before another
    # jurisdiction's rules, everyday figure questions and named lists / certificates / quotas
    # as subject heads). The target, 0.90, is the floor.
    summary = evaluate(load_questions(DATA / "kb_unanswerable.jsonl"), index=idx).summary()
    assert summary["n"] >= 40 and summary["declined"] >= 0.90, summary


def test_close_runners_up_are_one_tap_away(scoped: str, idx: kb_index.KbIndex) -> None:
    """租厂房签的合同要不要去房管局备案: 城市房地产管理法 第五十四条 (lease registration) and
    民法典合同编 第七百零六条 (an unregistered lease stays valid) both fit; those not shown
    first are buttons that open them."""
    messages, events = _run(topic_actions.ActionHandleTopic(),
                            _tracker("租厂房签的合同要不要去房管局备案", "land"))
    responses = [m.get("response") for m in messages]
    assert responses[-2:] == ["utter_kb_related", "utter_kb_feedback"]
    offered = messages[-2]["buttons"]
    assert 1 <= len(offered) <= topic_actions.RELATED_MAX
    shown = [e["value"] for e in events if e.get("name") == "kb_entry"][-1]
    ids = [json.loads(b["payload"].removeprefix("/inform"))["kb_full"] for b in offered]
    assert shown not in ids and len(set(ids)) == len(ids)
    assert any(i.startswith("law:民法典合同编") for i in {shown, *ids})
    full, _ = _run(ticket_actions.ActionHandleInform(), _tracker(
        offered[0]["payload"], "inform", entities=[{"entity": "kb_full", "value": ids[0]}]))
    opened = idx.by_id[ids[0]]
    html = "\n".join(m["custom"]["html"] for m in full if m.get("custom"))
    assert opened.title in html and (opened.article or "") in html


@pytest.mark.parametrize(("question", "topic"), [("高新技术企业认定需要什么条件", "policy_benefit"),
                                               ("施工许可证要多久", "construction_permit")])
def test_sources_the_answer_cites_are_not_offered_again(
    scoped: str, idx: kb_index.KbIndex, question: str, topic: str
) -> None:
    """A curated answer cites the service item of the same name and its statute articles:
    offering them as "did you mean" buttons would repeat the answer."""
    messages, events = _run(topic_actions.ActionHandleTopic(), _tracker(question, topic))
    shown = idx.by_id[[e["value"] for e in events if e.get("name") == "kb_entry"][-1]]
    offered = [idx.by_id[json.loads(b["payload"].removeprefix("/inform"))["kb_full"]]
               for m in messages if m.get("response") == "utter_kb_related" for b in m["buttons"]]
    assert shown.source == "curated"
    assert not [e for e in offered if e.title == shown.title or e.title in shown.cites
                or topic_actions._cited_as(e) in shown.cites]


def test_no_runner_up_offered_when_the_answer_stands_out(scoped: str) -> None:
    messages, _ = _run(topic_actions.ActionHandleTopic(),
                       _tracker("公司捐钱给慈善机构能不能抵税", "tax"))
    assert "utter_kb_related" not in [m.get("response") for m in messages]


# ------------------------------------------------------------------------------ reranker


def test_reranker_weights_come_from_the_current_training_data() -> None:
    """kb/reranker.json must be retrained (``hotline kb train-reranker``) whenever the
    training questions or the feature list change: stale weights fail here."""
    data = json.loads((KB / rerank.RERANKER_FILE).read_text(encoding="utf-8"))
    assert data["features"] == list(rerank.FEATURES)
    assert data["trained_on"] == rerank_train.data_hash(KB)
    assert all(np.isfinite(data["weights"])) and len(data["weights"]) == len(rerank.FEATURES)


def test_training_questions_name_entries_that_exist(idx: kb_index.KbIndex) -> None:
    questions = rerank_train.written_questions(KB)
    assert len(questions) >= 900
    known = {(e.source, e.title, e.article) for e in idx.entries}
    titles = {(e.source, e.title) for e in idx.entries}
    bad = [q.question for q in questions
           if ((q.source, q.title, canonical_article(q.article)) not in known if q.article
               else (q.source, q.title) not in titles)]
    assert not bad, bad[:5]


def test_reranker_lifts_the_statute_questions(idx: kb_index.KbIndex) -> None:
    assert idx.reranker is not None
    with_model, without = with_and_without(
        idx, "reranker", load_questions(DATA / "kb_questions_statutes.jsonl"))
    # measured 0.648 against 0.475 (0.570 before the dense features)
    assert with_model["cited_hit_at_1"] >= without["cited_hit_at_1"] + 0.05, (with_model, without)


def test_training_on_a_few_questions_gives_usable_weights(
    idx: kb_index.KbIndex, tmp_path: Path
) -> None:
    questions = rerank_train.written_questions(KB)[::40]
    model, stats = rerank_train.train_on(KB, idx, questions, tmp_path, use_glosses=False)
    assert stats["written"] == len(questions) and 0 < stats["found"] <= len(questions)
    assert model.weights.shape == (len(rerank.FEATURES),) and np.isfinite(model.weights).all()
    assert idx.reranker is not None  # the index's own model is left in place
    with pytest.raises(ValueError):
        rerank_train.train_on(KB, idx, [], tmp_path / "none", use_glosses=False)


# ------------------------------------------------------------------- the NLU's topics


def test_nlu_topic_cache_holds_every_evaluation_question(tmp_path: Path) -> None:
    """``hotline kb eval --nlu-topics`` passes the topic the NLU predicted (as production
    does), from a cache ``bench/nlu_topics_kb.py`` writes: it must hold every question of
    the evaluation and training files; a question it lacks is an error, not a None."""
    from hotline.kb import nlu_topics

    files = HELD_OUT + sorted((KB / "training").glob("*.jsonl"))
    questions = [q.question for path in files for q in load_questions(path)]
    topics = nlu_topics.load(questions)
    assert len(topics) == len(set(questions))
    assert set(topics.values()) - {None} <= set(topic_names())
    with pytest.raises(nlu_topics.StaleCache):
        nlu_topics.load(["一个从未解析过的问题"])


def test_own_set_with_the_nlu_topic_meets_its_floor(idx: kb_index.KbIndex) -> None:
    """As production asks (the NLU's topic as a prior): measured cited hit@3 0.964 (0.955
    without a topic), declined 0.045; unanswerable declined 0.703 either way (before the
    learned second opinion)."""
    from hotline.kb import nlu_topics

    questions = load_questions(DATA / "kb_questions.jsonl")
    topics = nlu_topics.load(q.question for q in questions)
    summary = evaluate(questions, index=idx, nlu_topics=topics).summary()
    assert summary["cited_hit_at_3"] >= 0.96 and summary["declined"] <= 0.06, summary


def test_a_figure_the_sources_lack_is_declined_with_the_entry_one_tap_away(
    scoped: str,
) -> None:
    """深圳的创业担保贷款最多能贷多少: the curated entry is on the subject but says the amount is
    set locally and not in the knowledge base; the bot says so instead of answering, offers
    that entry as a button, a ticket and a person, and logs the question for staff."""
    messages, _ = _run(topic_actions.ActionHandleTopic(),
                       _tracker("深圳的创业担保贷款最多能贷多少", "financing"))
    assert messages[0]["response"] == "utter_kb_figure_not_in_source"
    assert "人力资源和社会保障" in messages[0]["department"]  # the entry's office, not the topic's
    button = messages[0]["buttons"][0]
    entry_id = json.loads(button["payload"].removeprefix("/inform"))["kb_full"]
    assert entry_id.startswith("curated:") and "创业担保贷款" in button["title"]
    assert [b["payload"] for b in messages[-1]["buttons"]] == ["/open_ticket", "/request_human"]
    with db.session_scope(scoped) as session:
        row = session.scalars(select(KbDeclined)).one()
        assert row.reason == decide.FIGURE_NOT_IN_SOURCE


def test_a_figure_asked_with_something_else_still_gets_the_entry(idx: kb_index.KbIndex) -> None:
    """能贷多少、有没有贴息: the curated entry answers 贴息 and says where the amount is set, so
    it is the answer; asked alone, the amount is declined."""
    assert search("创业担保贷款能贷多少、有没有贴息", index=idx).confident
    alone = search("深圳的创业担保贷款最多能贷多少", index=idx)
    assert not alone.confident and alone.reason == decide.FIGURE_NOT_IN_SOURCE


def test_a_count_or_length_asked_is_stated_by_a_numeral_with_its_unit() -> None:
    from hotline.kb.figures import states_count

    assert states_count("一个月最多能让员工加多少个小时班", "每月不得超过三十六小时")
    assert states_count("不想注销，最多能停多久", "歇业期限最长不得超过三年")
    assert states_count("缓缴最多几个月", "最长不得超过3个月")
    assert not states_count("最多能停多久", "应当及时办理歇业备案")
    assert not states_count("罚款要交多少钱", "每月不得超过三十六小时")  # money is not a count
    assert not states_count("加班最多多少个小时", "最长不得超过三年")  # another unit


def test_a_figure_question_on_hours_is_answered_when_the_article_states_them(
    idx: kb_index.KbIndex,
) -> None:
    result = search("工厂赶工期，每个月加班最多能加多少小时", index=idx)
    assert result.confident, result.reason


def test_a_count_asked_in_one_unit_is_stated_in_its_other_writing() -> None:
    from hotline.kb.figures import states_count

    assert states_count("最多能拖多少天", "最长不超过十五日")
    assert states_count("要几天", "5个工作日内办结")
    assert states_count("能缓几个月", "最长不超过三月")


def test_money_support_asked_needs_an_entry_that_speaks_of_some() -> None:
    spans = [(0, 12)]
    assert decide.support_missing("体系认证做完有没有补贴", spans, "推行企业质量体系认证制度")
    assert not decide.support_missing("体系认证做完有没有补贴", spans, "对认证给予一次性奖励")
    assert not decide.support_missing("体系认证要多久", spans, "推行企业质量体系认证制度")
    # only a clause that asks: the background may name a subsidy already received
    text = "我们拿过补贴，认证要多久"
    assert not decide.support_missing(text, [(6, len(text))], "推行企业质量体系认证制度")


def test_a_subsidy_for_something_no_support_is_written_of_is_declined(
    idx: kb_index.KbIndex,
) -> None:
    result = search("工厂做了质量管理体系认证，政府给不给补助", index=idx)
    assert not result.confident
    assert result.reason == "support not in source", result.reason
    assert "support not in source" in declined.REASON_ZH


def test_a_declined_question_points_at_the_closest_entries_of_its_topic(
        scoped: str, idx: kb_index.KbIndex) -> None:
    """Declined, but the closest entries of its topic one tap away, said to be no sure answer:
    a false decline costs a tap, not the answer."""
    messages, _ = _run(topic_actions.ActionHandleTopic(),
                       _tracker("企业年金有什么规定", "employment"))
    assert messages[0]["response"] == "utter_kb_not_sure"
    pointing = [m for m in messages if m.get("text") == topic_actions.NEAREST_TEXT]
    assert len(pointing) == 1 and "不一定能回答" in topic_actions.NEAREST_TEXT
    buttons = pointing[0]["buttons"]
    assert 1 <= len(buttons) <= topic_actions.NEAREST_MAX
    ids = [json.loads(b["payload"].removeprefix("/inform"))["kb_full"] for b in buttons]
    assert all(idx.by_id[i].topic == "employment" for i in ids)
    assert len({b["title"] for b in buttons}) == len(buttons)
    assert [b["payload"] for b in messages[-1]["buttons"]] == ["/open_ticket", "/request_human"]
    full, _ = _run(ticket_actions.ActionHandleInform(), _tracker(
        buttons[0]["payload"], "inform", entities=[{"entity": "kb_full", "value": ids[0]}]))
    assert any(m.get("custom") for m in full)  # the entry, whole


@pytest.mark.parametrize(("question", "topic"), [
    ("公司给员工交企业年金有什么规定", "financing"),  # the closest entries are of another topic
    ("how do I register a company in Guangzhou?", "start_business"),  # few words in common
    ("数字人民币对公钱包怎么开通", "financing"),
    ("请问申请火星基地入驻补贴需要满足什么条件？", "employment"),  # 社会保险补贴: no
    ("请问申请火星基地入驻补贴需要满足什么条件？", "policy_benefit"),
])
def test_no_entries_pointed_at_outside_the_topic_or_with_little_in_common(
        scoped: str, question: str, topic: str) -> None:
    messages, _ = _run(topic_actions.ActionHandleTopic(), _tracker(question, topic))
    assert messages[0]["response"] == "utter_kb_not_sure"
    assert all(m.get("text") != topic_actions.NEAREST_TEXT for m in messages)
