"""Hot issues in the database: grouping new tickets, raising, and the supervisors' steps.

Why this module exists: the grouping must happen the moment a ticket is received (the
department is told the ticket belongs to a hot issue), survive restarts, agree across
processes, and let supervisors correct it. So:

- the **database is the truth**: every grouped text is a :class:`~hotline.models.HotDoc`
  row (its stored term counts, its group, its issue), every change of an issue a
  :class:`~hotline.models.HotIssueEvent`;
- each process keeps an :class:`HotIndex` — the :class:`~hotline.hot.engine.Engine`
  mirrored from those rows — so placing a ticket costs one comparison with the open groups
  (≤ 50 ms with 20,000 tickets on file, ``bench/bench_hot.py``), not a re-clustering. The
  index only ever *reads* rows: before each placement it applies the docs and events written
  since (by this process or another), so a rolled-back transaction leaves it untouched —
  a rollback in a session that used it drops the index, which is rebuilt on the next use;
- :func:`on_ticket` runs in the ticket's own transaction (called by
  :func:`hotline.tickets.create_ticket` in a savepoint: a failure here never loses the
  ticket).

Supervisors' steps (:func:`set_state`, :func:`merge`, :func:`drop_member`, :func:`supervise`)
each record an event; the console and the Telegram operator group are told of new issues by

The code lives in sibling modules, re-exported here so callers keep importing this one:
:mod:`hotline.hot.errors` (refusals), :mod:`hotline.hot.index` (the per-process index),
:mod:`hotline.hot.place` (placing a text, raising, titles), :mod:`hotline.hot.views`
(reading) and :mod:`hotline.hot.steps` (the supervisors' steps).
"""

from __future__ import annotations

from hotline.hot.errors import HotIssueError, HotIssueNotFound, _now
from hotline.hot.index import (
    _INDEXES,
    _INDEXES_LOCK,
    PRUNE_EVERY,
    RESHAPING,
    SYNC_MARGIN,
    HotIndex,
    _url,
    forget_index,
    index_for,
)
from hotline.hot.place import (
    _CLAUSE_RE,
    _LEAD_RE,
    ADVISORY_LOCK,
    TITLE_CHARS,
    TITLE_SAMPLE,
    Joined,
    _place,
    _raise,
    _reporter,
    _texts,
    on_declined,
    on_ticket,
    title_for,
)
from hotline.hot.steps import (
    ALLOWED_FROM,
    _issue,
    _record,
    claim_unannounced,
    drop_member,
    merge,
    set_state,
    supervise,
)
from hotline.hot.views import (
    EVENT_ZH,
    ST,
    IssueView,
    MemberView,
    TicketHot,
    _member_views,
    _trend,
    _views,
    active_issues,
    for_tickets,
    issue_detail,
    list_issues,
)

__all__ = [
    "ADVISORY_LOCK", "ALLOWED_FROM", "EVENT_ZH", "PRUNE_EVERY", "RESHAPING", "ST",
    "SYNC_MARGIN", "TITLE_CHARS", "TITLE_SAMPLE", "HotIndex", "HotIssueError",
    "HotIssueNotFound", "IssueView", "Joined", "MemberView", "TicketHot", "active_issues",
    "claim_unannounced", "drop_member", "for_tickets", "forget_index", "index_for",
    "issue_detail", "list_issues", "merge", "on_declined", "on_ticket", "set_state",
    "supervise", "title_for",
    # private helpers, kept importable from here
    "_CLAUSE_RE", "_INDEXES", "_INDEXES_LOCK", "_LEAD_RE", "_issue", "_member_views", "_now",
    "_place", "_raise", "_record", "_reporter", "_texts", "_trend", "_url", "_views",
]
