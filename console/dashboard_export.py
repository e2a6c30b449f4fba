"""The dashboard's tables: their columns, how a figure is written, and the exports.

``GET /console/dashboard/export.csv`` and ``export.xlsx`` (:mod:`console.dashboard`) give the
overall figures, per topic and per department. CSV is UTF-8 with a BOM (Excel then reads the
Chinese right), in three sections; the workbook has one sheet per table plus 说明. A label
never reaches a spreadsheet as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from console.dashboard_figures import Dashboard
from hotline import sla, stats

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def pct(value: float | None) -> str:
    """A rate as the reports write it: ``98.8%``; ``—`` when there is nothing to divide."""
    return "—" if value is None else f"{value * 100:.1f}%"


def hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def raw(value: float | None, digits: int = 4) -> str:
    """The value behind a figure, for ``data-value`` (empty when there is none)."""
    return "" if value is None else str(round(value, digits))


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    value: Callable[[stats.Summary], Any]
    kind: str = "count"  # count | rate | hours | text


COLUMNS: tuple[Column, ...] = (
    Column("received", "收集（件）", lambda s: s.received),
    Column("resolved", "办结（件）", lambda s: s.resolved),
    Column("resolution_rate", "办结率", lambda s: s.resolution_rate, "rate"),
    Column("resolved_on_time", "按期办结（件）", lambda s: s.resolved_on_time),
    Column("on_time_rate", "按期办结率", lambda s: s.on_time_rate, "rate"),
    Column("avg_handling_hours", "平均办理时长（小时）", lambda s: s.avg_handling_hours, "hours"),
    Column("rated", "评价（件）", lambda s: s.rated),
    Column("satisfied", "满意（件）", lambda s: s.satisfied),
    Column("satisfaction_rate", "满意度", lambda s: s.satisfaction_rate, "rate"),
    Column("red", "红灯（件）", lambda s: s.red),
    Column("open_overdue", "在办超期（件）", lambda s: s.open_overdue),
    Column("resolved_late", "超期办结（件）", lambda s: s.resolved_late),
)
TABLES = (("总体", "名称"), ("按诉求类别", "诉求类别"), ("按承办部门", "承办部门"))


def cell_text(column: Column, summary: stats.Summary) -> str:
    value = column.value(summary)
    if column.kind == "rate":
        return pct(value)
    if column.kind == "hours":
        return hours(value)
    return str(value)


def tables(d: Dashboard) -> list[tuple[str, str, list[stats.Summary]]]:
    rows = ([d.total], d.by_topic, d.by_department)
    return [(name, head, list(r)) for (name, head), r in zip(TABLES, rows)]


def _safe(text: str) -> str:
    """A label that a spreadsheet will not take for a formula (CSV/formula injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- exports ----------------------------------------------------------------------------


def disposition(d: Dashboard, ext: str) -> str:
    """The download's ``Content-Disposition``: an ASCII name and the Chinese one."""
    span = f"{d.period.first:%Y%m%d}-{d.period.last:%Y%m%d}"
    ascii_name = f"hotline-stats_{span}.{ext}"
    zh_name = f"企业诉求办理统计_{span}.{ext}"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(zh_name)}"


def export_csv(d: Dashboard) -> str:
    """The CSV text (without the BOM): a heading, then the three tables, blank-separated."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["企业诉求办理统计"])
    w.writerow(["统计区间", d.period.first.isoformat(), d.period.last.isoformat()])
    w.writerow(["统计时刻", f"{sla.as_local(d.now):%Y-%m-%d %H:%M}"])
    w.writerow(["说明", "按受理日期统计；办结率=办结/收集，按期办结率=按期办结/办结，"
                "满意度=满意和基本满意/评价，红灯=在办超期+超期办结"])
    for name, head, rows in tables(d):
        w.writerow([])
        w.writerow([name])
        w.writerow([head, *(c.title for c in COLUMNS)])
        for s in rows:
            w.writerow([_safe(s.label), *(cell_text(c, s) for c in COLUMNS)])
    return out.getvalue()


def export_xlsx(d: Dashboard) -> bytes:
    """The workbook: sheets 总体, 按诉求类别, 按承办部门 (header in row 1), then 说明."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for name, head, rows in tables(d):
        sheet = book.create_sheet(name)
        sheet.append([head, *(c.title for c in COLUMNS)])
        for cell in sheet[1]:
            cell.font = bold
        for s in rows:
            sheet.append([s.label, *(c.value(s) for c in COLUMNS)])
            label = sheet.cell(row=sheet.max_row, column=1)
            label.value, label.data_type = s.label, "s"  # "=…" stays text, not a formula
        for j, column in enumerate(COLUMNS, start=2):
            fmt = {"rate": "0.0%", "hours": "0.0"}.get(column.kind)
            if fmt:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell.number_format = fmt
        sheet.column_dimensions["A"].width = 24
        for j in range(2, len(COLUMNS) + 2):
            sheet.column_dimensions[get_column_letter(j)].width = 14
        sheet.freeze_panes = "B2"
    notes = book.create_sheet("说明")
    for row in (
        ("企业诉求办理统计", ""),
        ("统计区间", d.period.label),
        ("统计时刻", f"{sla.as_local(d.now):%Y-%m-%d %H:%M}"),
        ("统计口径", "按受理日期统计：区间内受理的诉求，截至统计时刻的办理情况"),
        ("办结率", "办结 / 收集"),
        ("按期办结率", "在办理期限内办结 / 办结"),
        ("平均办理时长", "受理至首次办结的平均小时数（自然时间）"),
        ("满意度", "最近一次评价为满意或基本满意 / 评价过的诉求"),
        ("红灯", "在办超期 + 超期办结"),
        ("报告", d.sentence),
    ):
        notes.append(list(row))
    notes.column_dimensions["A"].width = 16
    notes.column_dimensions["B"].width = 80
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
