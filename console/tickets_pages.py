"""The console's ticket list: every ticket, filtered, lit and paged.

- ``GET /console/tickets``: every ticket for operators, supervisors and admins; a
  department account sees its own department's only, whatever the query says. Filters
  (status, topic, department, light, creation dates, number or enterprise name), 50 a
  page, counts per light above the table. The light of a closed ticket is green when it
  was resolved on time and red when late (as in the department work list and the stats).

The search is :func:`hotline.ticket_queries.search`'s, as the JSON API's work list; this
module reads the query string and lays the page out. One ticket and its handling steps
are :mod:`console.ticket_detail`'s, the JSON API :mod:`console.api.tickets`'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.deps import CurrentActor, Db, Now, own_department
from console.web import render
from hotline import routing, sla
from hotline import ticket_queries as queries
from hotline.models import STATUS_ZH, TicketStatus

router = APIRouter(prefix="/console")

PAGE_SIZE = 50
SEARCH_MAX = 50
SORTS = {"new": "最新受理在前", "deadline": "在办优先，办理期限最近在前"}
ORDERS = {"new": queries.Order.NEWEST, "deadline": queries.Order.WORK}


@dataclass
class Filters:
    status: str = ""
    topic: str = ""
    department: int | None = None
    light: str = ""
    created_from: date | None = None
    created_to: date | None = None
    q: str = ""
    sort: str = "new"
    default_sort: str = "new"
    page: int = 1
    errors: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, params: Mapping[str, str], departments: Mapping[int, str],
              own_department: int | None) -> Filters:
        """The filters of the query string; a bad value is dropped with a Chinese note."""
        # a department's work list: most urgent first; everyone else: newest first
        default = "deadline" if own_department is not None else "new"
        f = cls(sort=default, default_sort=default)
        status = params.get("status", "").strip()
        if status:
            if status in {s.value for s in TicketStatus}:
                f.status = status
            else:
                f.errors.append("未知的工单状态，已忽略该筛选条件。")
        topic = params.get("topic", "").strip()
        if topic:
            if topic in routing.load_taxonomy().topics:
                f.topic = topic
            else:
                f.errors.append("未知的诉求类别，已忽略该筛选条件。")
        dept = params.get("department", "").strip()
        if dept and own_department is None:  # a department sees its own only
            if dept.isdigit() and int(dept) in departments:
                f.department = int(dept)
            else:
                f.errors.append("未知的承办部门，已忽略该筛选条件。")
        light = params.get("light", "").strip()
        if light:
            if light in {x.value for x in sla.Light}:
                f.light = light
            else:
                f.errors.append("未知的红绿灯状态，已忽略该筛选条件。")
        for key, attr, label in (("from", "created_from", "起始日期"),
                                 ("to", "created_to", "截止日期")):
            raw = params.get(key, "").strip()
            if raw:
                try:
                    day = date.fromisoformat(raw)
                except ValueError:
                    f.errors.append(f"{label}格式应为“年-月-日”（如 2026-11-20），已忽略。")
                    continue
                if queries.in_date_range(day):
                    setattr(f, attr, day)
                else:
                    f.errors.append(f"{label}超出范围（{queries.FIRST_DAY} 至 "
                                    f"{queries.LAST_DAY}），已忽略。")
        if f.created_from and f.created_to and f.created_from > f.created_to:
            f.errors.append("起始日期晚于截止日期，没有符合条件的工单。")
        f.q = params.get("q", "").strip()[:SEARCH_MAX]
        sort = params.get("sort", "").strip()
        if sort in SORTS:
            f.sort = sort
        page = params.get("page", "").strip()
        f.page = int(page) if page.isdigit() and 0 < int(page) < 1_000_000 else 1
        return f

    def params(self, **changes: Any) -> dict[str, str]:
        values = replace(self, **changes) if changes else self
        out = {
            "q": values.q, "status": values.status, "topic": values.topic,
            "department": str(values.department) if values.department else "",
            "light": values.light,
            "from": values.created_from.isoformat() if values.created_from else "",
            "to": values.created_to.isoformat() if values.created_to else "",
            "sort": values.sort if values.sort != values.default_sort else "",
            "page": str(values.page) if values.page > 1 else "",
        }
        return {k: v for k, v in out.items() if v}

    def link(self, **changes: Any) -> str:
        query = urlencode(self.params(**changes))
        return "/console/tickets" + ("?" + query if query else "")

    def criteria(self, department_id: int | None) -> queries.Criteria:
        return queries.Criteria(
            department_id=department_id, status=self.status, topic=self.topic, light=self.light,
            created_from=self.created_from, created_to=self.created_to, text=self.q,
            order=ORDERS[self.sort])


@dataclass(frozen=True)
class ListRow:
    number: str
    created_at: datetime
    topic_zh: str
    enterprise: str | None
    department: str | None
    status: str
    status_zh: str
    deadline: datetime
    light: str
    light_zh: str
    escalated: bool
    hot_issue: int | None = None  # the hot issue (热点问题) the ticket belongs to


def _rows(found: queries.Found) -> list[ListRow]:
    return [
        ListRow(
            number=t.number, created_at=t.created_at, topic_zh=routing.topic_zh(t.topic),
            enterprise=t.enterprise.name if t.enterprise else None,
            department=t.department.name if t.department else None,
            status=t.status, status_zh=queries.status_zh(t.status), deadline=t.deadline,
            light=light.value, light_zh=queries.light_zh(t.status, light), escalated=t.escalated,
            hot_issue=found.hot[t.id].issue_id if t.id in found.hot else None,
        )
        for t, light in found.tickets
    ]


@router.get("/tickets", response_class=HTMLResponse)
def ticket_list(request: Request, db: Db, actor: CurrentActor, now: Now) -> Response:
    own = own_department(actor)
    departments = queries.department_names(db)
    f = Filters.parse(request.query_params, departments, own)
    found = queries.search(db, f.criteria(own if own is not None else f.department), now,
                           offset=(f.page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    pages = max(1, math.ceil(found.total / PAGE_SIZE))
    if own is not None:
        title = f"{actor.department or departments.get(own, '本部门')} · 工单"
    else:
        title = "工单"
    return render(
        request, "tickets_list.html", actor, title=title, f=f, rows=_rows(found),
        counts=found.counts, total=found.total, all_count=sum(found.counts.values()),
        pages=pages, page_size=PAGE_SIZE, lights=queries.LIGHTS,
        statuses=list(STATUS_ZH.items()),
        topics=[(t.name, t.zh) for t in routing.load_taxonomy().topics.values()],
        departments=list(departments.items()), sorts=list(SORTS.items()),
        department_locked=own is not None, link=f.link,
    )
