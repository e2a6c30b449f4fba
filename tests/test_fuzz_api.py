"""Schemathesis over the department JSON API (``/console/api``), logged in as a department
account and as a supervisor: whatever a client sends that the schema allows — and what it
does not allow — the answer is never a 5xx, its status is one the schema documents, and its
body is JSON matching the documented schema.

The schema is the API's own (``GET /console/api/openapi.json``, behind the login); ticket
numbers and department ids are sometimes swapped for real ones, so generated requests reach
the handlers and the lifecycle, not only the 404s. Ids and dates at the ends of their range,
which generation rarely reaches, get a property of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from console.api.tickets import FIRST_DAY, LAST_DAY
from console.auth import COOKIE
from hotline import lifecycle, tickets
from hotline.db import session_scope
from tests.console_helpers import ConsoleHarness
from tests.fuzz_helpers import fuzz, fuzz_report, noted, ran  # noqa: F401

SCHEMA_PATH = "/console/api/openapi.json"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 8}


def _seed(app: ConsoleHarness) -> list[str]:
    """Tickets in several states in the tax, housing and finance departments; their numbers."""
    with session_scope(app.db_url) as s:
        made = [
            tickets.create_ticket(s, topic="tax", description="发票额度不够", conversation_id="tg:7"),
            tickets.create_ticket(s, topic="tax", description="退税未到账", conversation_id=None),
            tickets.create_ticket(s, topic="construction_permit", description="施工许可三个月没批",
                                  conversation_id="web:0b0b4f2e-7d4c-4a53-9a4e-8f2b1c6d0e11"),
            tickets.create_ticket(s, topic="financing", description="银行抽贷", conversation_id=None),
            tickets.create_ticket(s, topic="construction_permit", description="竣工验收一直没排上",
                                  conversation_id="tg:8"),
        ]
        lifecycle.take(s, made[1], actor="staff:吴税务")
        lifecycle.resolve(s, made[1], "已退税，请查收。", actor="staff:吴税务")
        lifecycle.take(s, made[4], actor="staff:周住建")
        return [t.number for t in made]


def _login(app: ConsoleHarness, username: str) -> tuple[TestClient, dict[str, str]]:
    """A logged-in client and the headers that carry its session and CSRF token."""
    client = app.login(username)
    client.headers["X-CSRF-Token"] = client.csrf  # type: ignore[attr-defined]
    return client, {"Cookie": f"{COOKIE}={client.cookies.get(COOKIE)}",
                    "X-CSRF-Token": client.csrf}  # type: ignore[attr-defined]


def _realistic(numbers: list[str], departments: list[int]) -> Callable[[Any, Any], None]:
    def swap(case: Any, choice: Any) -> None:
        kind, index = choice
        params = case.path_parameters or {}
        if kind == "real" and "number" in params:
            params["number"] = numbers[index % len(numbers)]
        if kind == "real" and "department_id" in params:
            params["department_id"] = departments[index % len(departments)]

    return swap


def _can_be_wrong(operation: Any) -> bool:
    """Whether a request can break the schema: any string is a valid ticket number, so an
    operation with nothing else to get wrong has no negative examples."""
    return any(p.definition.get("schema", {}).get("type") != "string"
               for p in operation.path_parameters) or bool(operation.query) or bool(operation.body)


def test_without_a_session_the_schema_and_the_api_answer_401(console_app: ConsoleHarness
                                                             ) -> None:
    anonymous = console_app.client().get(SCHEMA_PATH)
    assert anonymous.status_code == 401 and "登录" in anonymous.json()["detail"]
    numbers = _seed(console_app)
    client, headers = _login(console_app, "zhujian")
    listed = client.get(SCHEMA_PATH).json()["paths"]
    assert listed and all(p.startswith("/console/api/") for p in listed)
    schema = schemathesis.openapi.from_asgi(SCHEMA_PATH, console_app.app, headers=headers)
    for result in schema.get_all_operations():
        operation = result.ok()

        @fuzz(5)
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            ran("api anonymous: 401")
            if "number" in (case.path_parameters or {}):
                case.path_parameters["number"] = numbers[0]
            response = case.call_and_validate(checks=CHECKS)
            assert response.status_code == 401, response.text
            assert "登录" in response.json()["detail"]

        run()


big_id = st.integers() | st.sampled_from([2**31 - 1, 2**31, 2**63, 2**64, -(2**63) - 1])
any_day = st.dates() | st.sampled_from([date.min, date.max, FIRST_DAY, LAST_DAY])


@pytest.mark.parametrize("username", ["zhujian", "boss"], ids=["department", "supervisor"])
def test_the_department_api_never_fails_and_keeps_to_its_schema(
    console_app: ConsoleHarness, username: str,
) -> None:
    numbers = _seed(console_app)
    client, headers = _login(console_app, username)
    schema = schemathesis.openapi.from_asgi(SCHEMA_PATH, console_app.app, headers=headers)
    own = console_app.departments["住房和城乡建设局"] if username == "zhujian" else None
    swap = _realistic(numbers, [own] * 5 + sorted(console_app.departments.values()) if own
                      else sorted(console_app.departments.values()))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            if mode is GenerationMode.NEGATIVE and not _can_be_wrong(operation):
                continue
            name = f"api {username}: {operation.label} [{mode.value}]"

            @fuzz(examples)
            @given(case=operation.as_strategy(generation_mode=mode),
                   choice=st.tuples(st.sampled_from(["real", "generated"]), st.integers(0, 9)))
            def run(case: Any, choice: Any) -> None:
                ran(name)  # noqa: B023 - run() is called within this iteration
                swap(case, choice)
                response = case.call_and_validate(headers=headers, checks=CHECKS)
                noted(f"api {username}: answered {response.status_code}")  # noqa: B023

            run()

    # The corners generation rarely reaches: ids past the database's integer, the calendar's
    # ends (the ticket list page takes the same dates and must not fail either).
    tax = console_app.departments["税务局"]

    @fuzz(20)
    @given(department=big_id, first=st.none() | any_day, last=st.none() | any_day)
    @example(department=2**31, first=None, last=None)  # regression: PostgreSQL "integer out of range"
    @example(department=2**63, first=None, last=None)  # regression: SQLite OverflowError
    @example(department=tax, first=date.min, last=None)  # regression: OverflowError (year 0 in UTC)
    @example(department=tax, first=None, last=date.max)  # regression: OverflowError (no next day)
    def out_of_range(department: int, first: date | None, last: date | None) -> None:
        ran(f"api {username}: ids and dates out of range")
        params = {k: v.isoformat() for k, v in (("from", first), ("to", last)) if v}
        listed = client.get(f"/console/api/departments/{department}/tickets", params=params)
        assert listed.status_code in (200, 403, 404, 422), listed.text
        redispatched = client.post(f"/console/api/tickets/{numbers[0]}/status",
                                   json={"to": "dispatched", "department_id": department})
        assert redispatched.status_code in (200, 403, 404, 409, 422), redispatched.text
        page = client.get("/console/tickets", params={**params, "department": str(department)})
        assert page.status_code == 200, page.text
        if first is not None and not FIRST_DAY <= first <= LAST_DAY:
            assert listed.status_code in (403, 422) and "超出范围" in page.text

    out_of_range()
