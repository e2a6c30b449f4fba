"""Hot issues (热点问题): grouping new tickets, raising, the supervisors' steps, the eval set.

Tickets are created through :func:`hotline.tickets.create_ticket`, as the bot does, so the
grouping runs where it runs in production (in the ticket's transaction).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
import yaml
from sqlalchemy import func, select

from hotline import tickets
from hotline.db import session_scope
from hotline.hot import evaluate, service
from hotline.hot.features import get_featurizer
from hotline.hot.settings import engine_config
from hotline.models import Enterprise, HotDoc, HotIssue, HotIssueEvent
from hotline.textnorm import normalize

UTC = timezone.utc
T0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # Monday 10:00 local

OUTAGE = [
    "木渎工业园这周停了三次电，事先没有任何通知，注塑机全部停机。",
    "吴中区木渎镇金枫路一带又停电了，供电所电话打不通。",
    "园区突然断电没有预告，木渎这边的厂子都停了，什么时候恢复供电？",
    "木渎工业园频繁停电，希望供电公司以后提前通知停电计划。",
]
UNRELATED = "公司名称核准被驳回，说和已有企业近似，但我们查了没有重名的。"


@pytest.fixture(autouse=True)
def _fresh_index():
    service.forget_index()
    yield
    service.forget_index()


def _enterprise(session, n: int, district: str = "吴中区") -> int:
    firm = Enterprise(uscc=f"91320500MA{n:08d}", name=f"测试企业{n}有限公司", district=district)
    session.add(firm)
    session.flush()
    return firm.id


def _file(db_url: str, text: str, n: int, at: datetime, topic: str = "utilities",
          district: str = "吴中区", same_firm: int | None = None) -> tuple[str, int]:
    with session_scope(db_url) as s:
        firm = same_firm or _enterprise(s, n, district)
        t = tickets.create_ticket(s, topic=topic, description=text, conversation_id=f"tg:{n}",
                                  enterprise_id=firm, now=at)
        return t.number, firm


def _issue_of(db_url: str, number: str) -> int | None:
    with session_scope(db_url) as s:
        t = tickets.by_number(s, number)
        return s.scalar(select(HotDoc.issue_id).where(HotDoc.ticket_id == t.id))


def test_third_enterprise_raises_the_issue_and_the_fourth_ticket_joins_it(db_url: str) -> None:
    first, _ = _file(db_url, OUTAGE[0], 1, T0)
    second, firm2 = _file(db_url, OUTAGE[1], 2, T0 + timedelta(hours=5))
    # the same enterprise again is not a third enterprise
    _file(db_url, OUTAGE[1] + "（再次反映）", 2, T0 + timedelta(hours=6), same_firm=firm2)
    other, _ = _file(db_url, UNRELATED, 9, T0 + timedelta(hours=7), topic="start_business")
    assert _issue_of(db_url, first) is None
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(HotIssue)) == 0

    third, _ = _file(db_url, OUTAGE[2], 3, T0 + timedelta(days=1))
    issue_id = _issue_of(db_url, third)
    assert issue_id is not None
    assert _issue_of(db_url, first) == _issue_of(db_url, second) == issue_id
    assert _issue_of(db_url, other) is None

    fourth, _ = _file(db_url, OUTAGE[3], 4, T0 + timedelta(days=2))
    assert _issue_of(db_url, fourth) == issue_id
    with session_scope(db_url) as s:
        view = service.issue_detail(s, issue_id, now=T0 + timedelta(days=2))
        assert view.tickets == 5 and view.enterprises == 4 and view.state == "new"
        assert view.districts == [("吴中区", 5)]
        assert view.departments[0][1] == 5
        assert "电" in view.title and len(view.title) <= service.TITLE_CHARS
        assert sum(n for _, n in view.trend) == 5
        kinds = [e["kind"] for e in view.events]
        assert kinds == ["raised", "joined"]
        # the department's page learns of it
        t = tickets.by_number(s, fourth)
        hot = service.for_tickets(s, [t.id])[t.id]
        assert hot.issue_id == issue_id and hot.tickets == 5 and hot.enterprises == 4


def test_reports_outside_the_window_do_not_raise(db_url: str) -> None:
    for i, text in enumerate(OUTAGE[:3]):
        _file(db_url, text, i + 1, T0 + timedelta(days=20 * i))
    # a month after the last report the group is closed: the same words start a new one
    _file(db_url, OUTAGE[3], 4, T0 + timedelta(days=40 + 31))
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(HotIssue)) == 0
        groups = s.scalars(select(HotDoc.group_key).order_by(HotDoc.id)).all()
    assert groups[0] == groups[1] == groups[2] != groups[3]


def test_a_new_process_sees_the_same_groups_and_rollbacks_leave_no_trace(db_url: str) -> None:
    for i, text in enumerate(OUTAGE[:3]):
        _file(db_url, text, i + 1, T0 + timedelta(hours=i))
    with pytest.raises(RuntimeError):
        with session_scope(db_url) as s:
            firm = _enterprise(s, 50)
            tickets.create_ticket(s, topic="utilities", description=OUTAGE[3],
                                  conversation_id="tg:50", enterprise_id=firm,
                                  now=T0 + timedelta(hours=4))
            raise RuntimeError("the caller fails after the ticket was made")
    service.forget_index()  # another process: builds its index from the tables
    fourth, _ = _file(db_url, OUTAGE[3], 5, T0 + timedelta(hours=5))
    with session_scope(db_url) as s:
        issue = s.scalars(select(HotIssue)).one()
        view = service.issue_detail(s, issue.id)
        assert view.tickets == 4  # the rolled-back ticket is nowhere
    assert _issue_of(db_url, fourth) == issue.id


def test_supervisors_merge_drop_supervise_and_close(db_url: str) -> None:
    a = [_file(db_url, text, i + 1, T0 + timedelta(hours=i))[0] for i, text in enumerate(OUTAGE[:3])]
    refund = [
        "出口退税申报四十天了，退税款还没到账。",
        "我们的出口退税一直显示审核中，什么时候能退？",
        "出口退税迟迟不到，企业现金流很紧张。",
    ]
    b = [_file(db_url, text, 20 + i, T0 + timedelta(hours=10 + i), topic="tax")[0]
         for i, text in enumerate(refund)]
    issue_a, issue_b = _issue_of(db_url, a[0]), _issue_of(db_url, b[0])
    assert issue_a and issue_b and issue_a != issue_b
    now = T0 + timedelta(days=1)
    with session_scope(db_url) as s:
        service.set_state(s, issue_a, "acknowledged", actor="staff:陈督办", now=now)
        with pytest.raises(service.HotIssueError, match="不能改为"):
            service.set_state(s, issue_a, "new", actor="staff:陈督办", now=now)
        service.merge(s, issue_a, issue_b, actor="staff:陈督办", now=now)
    with session_scope(db_url) as s:
        merged = service.issue_detail(s, issue_a, now=now)
        assert merged.tickets == 6
        assert s.get(HotIssue, issue_b).merged_into_id == issue_a
        assert [v.id for v in service.active_issues(s, now)] == [issue_a]
        doc = next(m for m in merged.members if m.number == b[2])
        service.drop_member(s, issue_a, doc.doc_id, actor="staff:陈督办", now=now)
    with session_scope(db_url) as s:
        assert service.issue_detail(s, issue_a, now=now).tickets == 5
        dropped = tickets.by_number(s, b[2])
        assert service.for_tickets(s, [dropped.id]) == {}
        with pytest.raises(service.HotIssueError, match="晚于今天"):
            service.supervise(s, issue_a, date(2026, 6, 1), actor="staff:陈督办", now=now)
        service.supervise(s, issue_a, date(2026, 6, 10), actor="staff:陈督办", note="三日内回复",
                          now=now)
    with session_scope(db_url) as s:
        members = [tickets.by_number(s, n) for n in a + b[:2]]
        shown = service.for_tickets(s, [t.id for t in members])
        assert len(shown) == 5
        for hot in shown.values():
            assert hot.supervise_deadline.astimezone(timezone(timedelta(hours=8))).date() == date(2026, 6, 10)
            assert hot.supervise_note == "三日内回复"
        assert s.get(HotIssue, issue_a).state == "handling"
        service.set_state(s, issue_a, "closed", actor="staff:陈督办", now=now)
    # a closed issue takes no new tickets: the same problem later starts a new group
    later, _ = _file(db_url, OUTAGE[3], 40, now + timedelta(hours=1))
    assert _issue_of(db_url, later) is None
    with session_scope(db_url) as s:
        kinds = s.scalars(select(HotIssueEvent.kind).where(HotIssueEvent.issue_id == issue_a)
                          .order_by(HotIssueEvent.id)).all()
        assert kinds == ["raised", "acknowledged", "absorbed", "dropped", "supervised", "closed"]


def test_new_issues_are_announced_once(db_url: str) -> None:
    for i, text in enumerate(OUTAGE[:3]):
        _file(db_url, text, i + 1, T0 + timedelta(hours=i))
    with session_scope(db_url) as s:
        first = service.claim_unannounced(s, T0 + timedelta(hours=3))
    with session_scope(db_url) as s:
        second = service.claim_unannounced(s, T0 + timedelta(hours=3))
    assert len(first) == 1 and first[0].tickets == 3 and second == []


def test_declined_questions_count_as_anonymous_reporters(db_url: str) -> None:
    from hotline.kb.models import SearchResult

    with session_scope(db_url) as s:
        for i, question in enumerate(["稳岗返还资金什么时候到账？", "去年的稳岗返还还没发，怎么查进度？",
                                      "稳岗返还一直显示审核中，钱没到账"]):
            from hotline.kb import declined

            result = SearchResult(query=question, normalized=normalize(question),
                                  reason="low_score")
            declined.record(s, result, "employment", f"web:chat-{i}")
        assert s.scalar(select(func.count()).select_from(HotIssue)) == 1
        view = service.active_issues(s)[0]
        assert view.reporters == 3 and view.tickets == 0 and view.enterprises == 0


def test_titles_are_short_and_drawn_from_the_tickets() -> None:
    title = service.title_for(OUTAGE)
    assert 4 <= len(title) <= service.TITLE_CHARS
    assert any(title.replace("…", "") in normalize(t) for t in OUTAGE)


# --- the labelled set -------------------------------------------------------------------


def _texts(half: str) -> set[str]:
    return {re.sub(r"\s+", "", normalize(t.text)) for t in evaluate.load(half)}


def test_the_labelled_halves_do_not_overlap_and_cover_what_the_issue_asks() -> None:
    dev, held = evaluate.load("dev"), evaluate.load("heldout")
    assert len(dev) + len(held) >= 300
    assert not {t.group for t in dev} & {t.group for t in held}
    assert not _texts("dev") & _texts("heldout")
    for half in (dev, held):
        assert any(t.text != normalize(t.text) for t in half)  # some Traditional
        assert any(t.source == "declined" for t in half)
        lengths = sorted(len(t.text) for t in half)
        assert lengths[0] <= 20 and lengths[-1] >= 250  # one line … a pasted letter
        sizes = {}
        for t in half:
            sizes[t.group] = sizes.get(t.group, 0) + 1
        assert sum(1 for n in sizes.values() if n >= 5) >= 10
        assert sum(1 for n in sizes.values() if 2 <= n <= 4) >= 4  # near-misses
    raw = yaml.safe_load((evaluate.DATA_DIR / "dev.yml").read_text(encoding="utf-8"))
    assert all("id" in g and "texts" in g for g in raw)


def test_grouping_meets_the_aims_on_the_held_out_half() -> None:
    outcome = evaluate.run(evaluate.load("heldout"), get_featurizer(),
                           engine_config(), "heldout")
    assert outcome.ari >= 0.8
    assert outcome.true_hot5_raised == outcome.true_hot5
    assert outcome.raised_unrelated == 0


def test_backfill_groups_tickets_filed_before_hot_issues(db_url: str,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from hotline.cli import main
    from hotline.hot.settings import get_hot_settings
    from hotline.settings import get_settings

    monkeypatch.setenv("HOTLINE_HOT_ENABLED", "false")
    get_hot_settings.cache_clear()
    try:
        for i, text in enumerate(OUTAGE):
            _file(db_url, text, i + 1, T0 + timedelta(hours=i))
        with session_scope(db_url) as s:
            assert s.scalar(select(func.count()).select_from(HotDoc)) == 0
        monkeypatch.setenv("HOTLINE_HOT_ENABLED", "true")
        monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
        get_hot_settings.cache_clear()
        get_settings.cache_clear()
        assert main(["hot", "backfill"]) == 0
        assert "已归类工单4件，新发现热点1个。" in capsys.readouterr().out
        assert main(["hot", "backfill"]) == 0  # nothing left to do
        assert "已归类工单0件" in capsys.readouterr().out
        assert main(["hot", "list"]) == 0
        assert "4件、4家企业" in capsys.readouterr().out
    finally:
        get_hot_settings.cache_clear()
        get_settings.cache_clear()
