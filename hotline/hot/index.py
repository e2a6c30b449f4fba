"""The per-process hot-issue index: the engine mirrored from committed rows.

Split from :mod:`hotline.hot.service` (whose module doc says why the index exists and how
it stays in step with the tables); names are re-exported there.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import Session

from hotline.hot.engine import Engine, Member
from hotline.hot.features import Featurizer, get_featurizer
from hotline.hot.settings import engine_config
from hotline.models import HotDoc, HotIssue, HotIssueEvent, HotIssueState

# Events after which a process reloads the groups concerned (the rest change no grouping).
RESHAPING = frozenset({"raised", "merged", "absorbed", "dropped", "closed", "reopened"})
SYNC_MARGIN = 64  # ids below the last seen that may still commit late (PostgreSQL)
PRUNE_EVERY = 500  # placements between two prunes of the groups nobody can join
ST = HotIssueState


class HotIndex:
    """The engine of one database, mirrored from its committed rows (see the module doc)."""

    def __init__(self, featurizer: Featurizer) -> None:
        self.featurizer = featurizer
        self.engine = Engine(engine_config())
        self.lock = threading.RLock()
        self.loaded = False
        self.last_doc = 0
        self.last_event = 0
        self._applied: set[int] = set()
        self._syncs = 0

    def _member(self, doc: HotDoc) -> Member:
        return Member(doc.id, doc.at, doc.reporter, doc.topic, doc.district)

    def _apply(self, doc: HotDoc) -> None:
        if doc.id in self._applied:
            return
        self._applied.add(doc.id)
        self.engine.add(doc.id, doc.group_key, self.featurizer.vector(doc.terms),
                        self._member(doc))
        group = self.engine.groups[doc.group_key]
        if doc.issue_id is not None and group.issue_id is None:
            group.issue_id = doc.issue_id

    def _mark_issues(self, session: Session, keys: set[int]) -> None:
        """Issue id and sealed flag of the given groups, from ``hot_issues``."""
        if not keys:
            return
        for key, issue_id, state in session.execute(
                select(HotIssue.group_key, HotIssue.id, HotIssue.state)
                .where(HotIssue.group_key.in_(keys))):
            group = self.engine.groups.get(key)
            if group is not None:
                group.issue_id = issue_id
                group.sealed = state == ST.CLOSED.value

    def load(self, session: Session, now: datetime) -> None:
        """Everything still joinable: texts of the last ``link_days`` and of open issues."""
        since = now - timedelta(days=self.engine.config.link_days)
        open_issues = select(HotIssue.id).where(HotIssue.state != ST.CLOSED.value)
        docs = session.scalars(
            select(HotDoc).where(or_(HotDoc.at >= since, HotDoc.issue_id.in_(open_issues)))
            .order_by(HotDoc.id)).all()
        for doc in docs:
            self._apply(doc)
        self.last_doc = session.scalar(select(func.max(HotDoc.id))) or 0
        self.last_event = session.scalar(select(func.max(HotIssueEvent.id))) or 0
        self._mark_issues(session, set(self.engine.groups))
        self.loaded = True

    def reload_group(self, session: Session, key: int) -> None:
        self.engine.drop_group(key)
        for doc in session.scalars(select(HotDoc).where(HotDoc.group_key == key)
                                   .order_by(HotDoc.id)):
            self._applied.discard(doc.id)
            self._apply(doc)
        self._mark_issues(session, {key})

    def sync(self, session: Session, now: datetime) -> None:
        """Apply the docs and events written since the last look (any process)."""
        if not self.loaded:
            self.load(session, now)
            return
        for doc in session.scalars(select(HotDoc).where(HotDoc.id > self.last_doc - SYNC_MARGIN)
                                   .order_by(HotDoc.id)):
            self._apply(doc)
            self.last_doc = max(self.last_doc, doc.id)
        events = session.execute(
            select(HotIssueEvent.id, HotIssueEvent.kind, HotIssueEvent.issue_id,
                   HotIssueEvent.other_issue_id, HotIssueEvent.doc_id)
            .where(HotIssueEvent.id > self.last_event).order_by(HotIssueEvent.id)).all()
        touched: set[int] = set()
        for row in events:
            self.last_event = max(self.last_event, row.id)
            if row.kind not in RESHAPING:
                continue
            issue = session.get(HotIssue, row.issue_id)
            if issue is not None:
                touched.add(issue.group_key)
            if row.other_issue_id is not None:
                other = session.get(HotIssue, row.other_issue_id)
                if other is not None:
                    touched.add(other.group_key)
            if row.doc_id is not None:
                doc = session.get(HotDoc, row.doc_id)
                if doc is not None:
                    touched.add(doc.group_key)
                    touched.add(doc.id)
        for key in touched:
            self.reload_group(session, key)
        self._syncs += 1
        if self._syncs % PRUNE_EVERY == 0:  # groups nobody can join any more
            self.engine.prune(now)
        if len(self._applied) > 200_000:  # a process that ran for years: start afresh
            self.__init__(self.featurizer)  # type: ignore[misc]
            self.load(session, now)


_INDEXES: dict[str, HotIndex] = {}
_INDEXES_LOCK = threading.Lock()


def _url(session: Session) -> str:
    return str(session.get_bind().url)


def index_for(session: Session) -> HotIndex:
    url = _url(session)
    with _INDEXES_LOCK:
        index = _INDEXES.get(url)
        if index is None:
            index = _INDEXES[url] = HotIndex(get_featurizer())
    if not session.info.get("hot_index_watch"):
        session.info["hot_index_watch"] = True
        event.listen(session, "after_rollback", lambda s: forget_index(url))
    return index


def forget_index(url: str | None = None) -> None:
    """Drop the index of ``url`` (all when None): rebuilt from the tables on next use."""
    with _INDEXES_LOCK:
        if url is None:
            _INDEXES.clear()
        else:
            _INDEXES.pop(url, None)
