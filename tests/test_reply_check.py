"""Reply check (答复质量检查): warnings of a 办结 reply, kept with it, and its figures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from hotline import lifecycle, reply_check, reply_check_eval, stats, tickets
from hotline.db import session_scope
from hotline.models import ReplyCheck
from hotline.textnorm import normalize

UTC = timezone.utc
T0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
REQUEST = "去年的稳岗返还到现在还没发，系统一直显示审核中，请帮忙查一下。"
GOOD = ("经核查，贵司稳岗返还资金8200元因银行账户信息有误被退回，我局已于6月3日按更正后的"
        "账户重新拨付，预计3个工作日内到账。依据《失业保险稳岗返还经办规程》第九条，资金以社保"
        "登记的账户为准。如仍未到账，请携带银行流水到就业科查询，联系人：孙老师，电话0512-65230011。")
THIN = "贵司的稳岗返还资金已经重新拨付，请留意查收。"


def test_a_complete_reply_has_no_warnings() -> None:
    review = reply_check.check(REQUEST, GOOD)
    assert review.ok and review.codes == []
    assert "稳岗返还" in review.key_terms


def test_set_phrases_only_are_boilerplate_and_nothing_else() -> None:
    for text in ("您反映的问题已收悉，我局将按规定办理。", "已转相关部门处理，请耐心等待。",
                 "该问题请咨询相关部门。", "收到，感谢您的反馈！"):
        assert reply_check.check(REQUEST, text).codes == ["boilerplate"], text


def test_an_incomplete_reply_is_told_what_is_missing() -> None:
    review = reply_check.check(REQUEST, THIN)
    assert review.codes == ["no_basis", "no_contact"]
    messages = {f.code: f.message for f in review.findings}
    assert "依据" in messages["no_basis"] and "联系" in messages["no_contact"]


def test_a_reply_about_something_else_is_off_topic() -> None:
    review = reply_check.check(
        "木渎工业园这周停了三次电，没有提前通知。",
        "经核查，贵司申请的天然气开户已于6月10日办结，依据《城镇燃气管理条例》第十八条办理，"
        "如需变更用气量可向燃气公司申请，联系人李工，电话0512-66271088。")
    assert review.codes == ["off_topic"]
    assert "木渎" in review.findings[0].message


def test_the_labelled_halves_do_not_overlap() -> None:
    dev, held = reply_check_eval.load("dev"), reply_check_eval.load("heldout")
    assert len(dev) + len(held) >= 150
    assert not {normalize(r.request) for r in dev} & {normalize(r.request) for r in held}
    assert not {normalize(r.text) for r in dev} & {normalize(r.text) for r in held}
    for half in (dev, held):
        kinds = {"good": 0, "boilerplate": 0, "incomplete": 0}
        for r in half:
            kinds["good" if not r.expect else "boilerplate" if "boilerplate" in r.expect
                  else "incomplete"] += 1
        assert min(kinds.values()) >= 10, kinds


def test_the_check_meets_the_aims_on_the_held_out_half() -> None:
    figures = reply_check_eval.measure(reply_check_eval.load("heldout"))
    assert figures["precision"] >= 0.85 and figures["recall"] >= 0.85, figures


def _resolved(db_url: str, text: str, reply: str, n: int, *, shown: bool = False) -> str:
    with session_scope(db_url) as s:
        t = tickets.create_ticket(s, topic="employment", description=text,
                                  conversation_id=f"tg:{n}", now=T0 + timedelta(minutes=n))
        lifecycle.take(s, t, actor="staff:周人社", now=T0 + timedelta(hours=1))
        lifecycle.resolve(s, t, reply, actor="staff:周人社", now=T0 + timedelta(hours=2),
                          warnings_shown=shown)
        return t.number


def test_warnings_are_kept_with_each_round_of_reply(db_url: str) -> None:
    number = _resolved(db_url, REQUEST, THIN, 1, shown=True)
    with session_scope(db_url) as s:
        t = tickets.by_number(s, number)
        lifecycle.rate(s, t, "dissatisfied", actor="enterprise", now=T0 + timedelta(hours=3))
        lifecycle.take(s, t, actor="staff:周人社", now=T0 + timedelta(hours=4))
        lifecycle.resolve(s, t, GOOD, actor="staff:周人社", now=T0 + timedelta(hours=5))
    with session_scope(db_url) as s:
        t = tickets.by_number(s, number)
        rows = s.scalars(select(ReplyCheck).where(ReplyCheck.ticket_id == t.id)
                         .order_by(ReplyCheck.round)).all()
        assert [(r.round, r.warnings, r.shown) for r in rows] == [
            (0, ["no_basis", "no_contact"], True), (1, [], False)]
        assert rows[0].department_id == t.department_id and rows[0].actor == "staff:周人社"


def test_reply_quality_figures_by_department(db_url: str) -> None:
    """Three replies of one department: two with warnings (one rated 不满意 and reopened,
    one 满意), one clean (满意). Sent with warnings 2/3, 不满意 1/3 — 1/2 of the warned
    ones, 0/1 of the clean ones — reopened after 1 of 3."""
    numbers = [_resolved(db_url, REQUEST, THIN, 1), _resolved(db_url, REQUEST, THIN, 2),
               _resolved(db_url, REQUEST, GOOD, 3)]
    with session_scope(db_url) as s:
        for number, level in zip(numbers, ("dissatisfied", "satisfied", "satisfied")):
            lifecycle.rate(s, tickets.by_number(s, number), level, actor="enterprise",
                           now=T0 + timedelta(hours=6))
    start, end = stats.period(T0.date(), T0.date())
    with session_scope(db_url) as s:
        total, groups = stats.reply_quality(s, start, end)
    assert total.replies == 3 and total.with_warnings == 2
    assert round(total.warned_share, 4) == 0.6667
    assert total.rated == 3 and total.dissatisfied == 1
    assert total.dissatisfied_rate_warned == 0.5 and total.dissatisfied_rate_clean == 0.0
    assert total.reopened == 1 and round(total.reopen_rate, 4) == 0.3333
    assert total.warnings == {"no_basis": 2, "no_contact": 2}
    assert len(groups) == 1 and groups[0].label == "人力资源和社会保障局"
    assert groups[0].as_dict()["replies"] == 3
