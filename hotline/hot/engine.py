"""Incremental grouping of tickets into problems, and the rule that makes a group hot.

Why incremental: a ticket must learn at once whether it joins a hot issue (the department
is told), and re-clustering tens of thousands of tickets per ticket is out of the question.
Each arriving text is compared with the *centroids* of the groups still open (their last
ticket within ``link_days``, or a hot issue not closed) — centroid linkage does not chain
unrelated tickets through one ambiguous text as single linkage would — and joins the best
one when

    cosine(text, centroid) + same-topic bonus + same-district bonus ≥ threshold,

else it opens a group of its own. A group is a hot issue once ``min_reporters`` different
enterprises (or anonymous chats) raised it within ``window_days``.

Comparing with the centroids uses an inverted index (term → groups holding it), so the
cost grows with the groups that share a word with the text, not with all tickets on file.

This module holds no database: :mod:`hotline.hot.service` feeds it from the tables and the
evaluation (:mod:`hotline.hot.evaluate`) feeds it the labelled set, in time order, through
the same :meth:`Engine.place`.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class EngineConfig:
    """When texts are one problem and when a problem is hot (defaults: see DESIGN notes
    in :mod:`hotline.hot.settings`)."""

    threshold: float = 0.35
    topic_bonus: float = 0.2
    district_bonus: float = 0.1
    link_days: int = 30
    window_days: int = 14
    min_reporters: int = 3


@dataclass
class Member:
    key: int  # the doc's id
    at: datetime
    reporter: str
    topic: str | None
    district: str | None


@dataclass
class Group:
    """A problem: the sum of its members' unit vectors and who raised it when."""

    key: int
    centroid: dict[str, float] = field(default_factory=dict)
    norm2: float = 0.0
    members: list[Member] = field(default_factory=list)
    topics: Counter[str] = field(default_factory=Counter)
    districts: Counter[str] = field(default_factory=Counter)
    last_at: datetime | None = None
    issue_id: int | None = None
    sealed: bool = False  # a closed hot issue: new tickets start a new group

    @property
    def size(self) -> int:
        return len(self.members)

    def reporters_within(self, window: timedelta, now: datetime) -> int:
        """Most different reporters found within any ``window`` up to ``now``."""
        return reporters_within([m for m in self.members if m.at <= now], window)


def reporters_within(members: list[Member], window: timedelta) -> int:
    """Most different reporters among ``members`` found within any span of ``window``."""
    times = sorted((m.at, m.reporter) for m in members)
    best = 0
    start = 0
    for end in range(len(times)):
        while times[end][0] - times[start][0] > window:
            start += 1
        best = max(best, len({r for _, r in times[start : end + 1]}))
    return best


@dataclass(frozen=True)
class Placement:
    group: int | None  # None: the text opens a group of its own
    score: float


class Engine:
    """The open groups and their inverted index. Not thread-safe: callers serialise."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.groups: dict[int, Group] = {}
        self._postings: dict[str, set[int]] = defaultdict(set)
        self.doc_group: dict[int, int] = {}

    # --- reading ----------------------------------------------------------------------

    def joinable(self, group: Group, at: datetime) -> bool:
        if group.sealed:
            return False
        if group.issue_id is not None:  # an open hot issue takes late reports too
            return True
        return group.last_at is not None and at - group.last_at <= timedelta(
            days=self.config.link_days)

    def place(self, vector: dict[str, float], at: datetime, topic: str | None,
              district: str | None) -> Placement:
        """The group ``vector`` belongs to (its best open group over the threshold)."""
        dots: dict[int, float] = defaultdict(float)
        for term, weight in vector.items():
            for key in self._postings.get(term, ()):
                dots[key] += weight * self.groups[key].centroid[term]
        cfg = self.config
        best: tuple[float, int] | None = None
        for key, dot in dots.items():
            group = self.groups[key]
            if group.norm2 <= 0 or not self.joinable(group, at):
                continue
            score = dot / math.sqrt(group.norm2)
            if topic and group.topics.get(topic, 0) * 2 >= group.size:
                score += cfg.topic_bonus
            if district and group.districts.get(district, 0) * 2 >= group.size:
                score += cfg.district_bonus
            if best is None or (score, -key) > (best[0], -best[1]):
                best = (score, key)
        if best is not None and best[0] >= cfg.threshold:
            return Placement(best[1], best[0])
        return Placement(None, best[0] if best else 0.0)

    def is_hot(self, key: int, now: datetime) -> bool:
        group = self.groups.get(key)
        if group is None:
            return False
        window = timedelta(days=self.config.window_days)
        return group.reporters_within(window, now) >= self.config.min_reporters

    # --- writing ----------------------------------------------------------------------

    def add(self, key: int, group_key: int, vector: dict[str, float], member: Member) -> Group:
        """Put doc ``key`` into group ``group_key`` (created when new)."""
        group = self.groups.get(group_key)
        if group is None:
            group = self.groups[group_key] = Group(key=group_key)
        dot = sum(w * group.centroid.get(t, 0.0) for t, w in vector.items())
        norm_v = sum(w * w for w in vector.values())
        group.norm2 = max(0.0, group.norm2 + 2 * dot + norm_v)
        for term, weight in vector.items():
            group.centroid[term] = group.centroid.get(term, 0.0) + weight
            self._postings[term].add(group_key)
        group.members.append(member)
        if member.topic:
            group.topics[member.topic] += 1
        if member.district:
            group.districts[member.district] += 1
        if group.last_at is None or member.at > group.last_at:
            group.last_at = member.at
        self.doc_group[key] = group_key
        return group

    def drop_group(self, group_key: int) -> None:
        """Forget a group (its members are re-added elsewhere by the caller)."""
        group = self.groups.pop(group_key, None)
        if group is None:
            return
        for term in group.centroid:
            keys = self._postings.get(term)
            if keys is not None:
                keys.discard(group_key)
                if not keys:
                    del self._postings[term]
        for member in group.members:
            if self.doc_group.get(member.key) == group_key:
                del self.doc_group[member.key]

    def prune(self, now: datetime) -> int:
        """Drop groups nobody can join any more (kept small for a long-running process)."""
        stale = [k for k, g in self.groups.items() if not self.joinable(g, now)]
        for key in stale:
            self.drop_group(key)
        return len(stale)
