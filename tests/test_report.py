"""The periodic report (定期通报): its figures are `hotline tickets stats`'s, the HTML and the
PDF carry them, the CLI writes both, the console serves them to the right people."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from hotline import report
from hotline.cli import main
from hotline.db import session_scope
from hotline.hot import service as hot
from hotline.local import seed
from hotline.settings import get_settings
from tests.console_helpers import ConsoleHarness

NOW = datetime(2026, 5, 14, 6, 0, tzinfo=timezone.utc)  # Thursday 14:00 local
AS_OF = "2026-05-14T14:00:00+08:00"
FIGURES = ("received", "resolved", "resolution_rate", "resolved_on_time", "on_time_rate",
           "rated", "satisfied", "satisfaction_rate", "red", "open_overdue", "resolved_late",
           "reopened", "avg_handling_hours")


@pytest.fixture
def seeded(db_url: str) -> str:
    hot.forget_index()
    with session_scope(db_url) as s:
        seed.seed_demo(s, count=300, now=NOW, days=120)
    return db_url


@pytest.fixture
def cli_db(seeded: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOTLINE_DATABASE_URL", seeded)
    get_settings.cache_clear()
    yield seeded
    get_settings.cache_clear()


def _stats_cli(capsys: pytest.CaptureFixture[str], first: date, last: date,
               by: str | None = None) -> dict:  # type: ignore[type-arg]
    args = ["tickets", "stats", "--from", first.isoformat(), "--to", last.isoformat(),
            "--as-of", AS_OF, "--json"]
    assert main([*args, "--by", by] if by else args) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("kind", "day"), [("week", date(2026, 4, 15)),
                                           ("month", date(2026, 4, 1)),
                                           ("month", date(2026, 5, 3))])
def test_report_figures_equal_the_stats_command(cli_db: str, capsys: pytest.CaptureFixture[str],
                                                kind: str, day: date) -> None:
    with session_scope(cli_db) as s:
        r = report.build(s, kind, day, now=NOW)
    expected = _stats_cli(capsys, r.period.first, r.period.last, by="department")
    assert expected["total"]["received"] > 0
    got = r.figures()
    for key in FIGURES:
        assert got[key] == expected["total"][key], key
    by_dept = {g["label"]: g for g in expected["groups"]}
    assert {g.label for g in r.departments} == set(by_dept)
    for g in r.departments:
        for key in FIGURES:
            assert g.as_dict()[key] == by_dept[g.label][key], (g.label, key)
    # one department's report is that department's row
    dept = r.departments[0]
    with session_scope(cli_db) as s:
        mine = report.build(s, kind, day, department_id=int(dept.key), now=NOW)
    for key in FIGURES:
        assert mine.figures()[key] == by_dept[dept.label][key], key
    assert mine.scope == dept.label


def test_periods_and_the_page(seeded: str) -> None:
    assert report.period_of("week", date(2026, 4, 15)).first == date(2026, 4, 13)
    assert report.period_of("month", date(2026, 2, 10)).last == date(2026, 2, 28)
    assert report.last_complete("week", date(2026, 5, 14)) == report.period_of("week", date(2026, 5, 4))
    assert report.last_complete("month", date(2026, 5, 14)).label == "2026年4月"
    with session_scope(seeded) as s:
        r = report.build(s, "month", date(2026, 4, 1), now=NOW)
    html = report.render_html(r)
    assert "企业诉求办理情况月报（2026年4月）" in html and "<style>" in html
    assert f'<b data-value="{r.total.received}">{r.total.received}</b>收集诉求' in html
    assert r.sentence in html
    for section in ("一、主要指标", "二、各承办部门", "三、答复质量", "四、热点问题",
                    "五、办理时间最长的在办工单"):
        assert section in html
    assert len(r.slowest) == report.SLOWEST
    assert all(a.created_at <= b.created_at for a, b in zip(r.slowest, r.slowest[1:]))
    pdf = report.render_pdf(r)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"STSong-Light" in pdf and len(pdf) > 3000


def test_cli_writes_html_and_pdf(cli_db: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reports"
    assert main(["report", "make", "--period", "week", "--as-of", AS_OF, "--out", str(out)]) == 0
    paths = capsys.readouterr().out.split()
    assert [Path(p).name for p in paths] == ["report-week-20260504-20260510-all.html",
                                            "report-week-20260504-20260510-all.pdf"]
    assert Path(paths[1]).read_bytes().startswith(b"%PDF-")
    assert main(["report", "make", "--period", "month", "--date", "2026-04-01",
                 "--department", "税务局", "--formats", "html", "--as-of", AS_OF,
                 "--out", str(out)]) == 0
    page = Path(capsys.readouterr().out.split()[0]).read_text(encoding="utf-8")
    assert "税务局" in page and "二、按诉求类别" in page
    assert main(["report", "make", "--period", "month", "--department", "无此部门",
                 "--out", str(out)]) == 2


def test_console_serves_the_report_to_whom_it_concerns(console_app: ConsoleHarness) -> None:
    console_app.ctx.extra["clock"] = lambda: NOW
    hot.forget_index()
    with session_scope(console_app.db_url) as s:
        seed.seed_demo(s, count=120, now=NOW, days=60)
    boss = console_app.login("boss")
    index = boss.get("/console/reports")
    assert index.status_code == 200 and "2026年第20周" in index.text and "2026年5月" in index.text
    page = boss.get("/console/reports/view?kind=month&day=2026-04-01")
    assert page.status_code == 200 and "企业诉求办理情况月报（2026年4月）" in page.text
    assert 'href="/console/reports/report.css"' in page.text and "<style>" not in page.text
    assert boss.get("/console/reports/report.css").headers["content-type"].startswith("text/css")
    pdf = boss.get("/console/reports/pdf?kind=month&day=2026-04-01")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-disposition"] == 'attachment; filename="report-month-20260401-20260430-all.pdf"'
    bad = boss.get("/console/reports/view?kind=year&day=2026-04-01")
    assert bad.status_code == 422 and "周报或月报" in bad.text

    tax = console_app.departments["税务局"]
    dept = console_app.login("shuiwu")
    own = dept.get(f"/console/reports/view?kind=month&day=2026-04-01&department={tax + 1}")
    assert own.status_code == 200 and "税务局 · 统计区间" in own.text  # always its own
    assert f"/console/reports/pdf?kind=month&amp;day=2026-04-01&amp;department={tax}" in own.text
    assert console_app.login("op1").get("/console/reports").status_code == 403
