"""Evaluation of hot-issue grouping on the hand-labelled set (``make eval-hot``).

The set (``tests/data/hot_issues/{dev,heldout}.yml``, see its README) lists problems with
the tickets that raised them. Each half is played through the product's own
:class:`~hotline.hot.engine.Engine` in time order, exactly as tickets arrive, and compared
with the labels:

- **ARI** — adjusted Rand index of the groups against the labelled problems (every ticket,
  the one-ticket background included);
- **true hot issues raised** — a labelled problem is a true hot issue when its own tickets
  meet the hot rule (``min_reporters`` enterprises within ``window_days``); it is raised
  when a hot issue the engine raised has it as its majority problem and holds at least half
  of its tickets. Reported for all true hot issues and for those of five tickets or more;
- **raised hot issues made of unrelated tickets** — raised issues whose majority problem is
  less than half of their tickets (the aim is none), and the raised issues' mean purity.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from hotline.hot.engine import Engine, EngineConfig, Member
from hotline.hot.features import FeatureConfig, Featurizer, get_featurizer
from hotline.settings import ROOT
from hotline.textnorm import to_traditional

DATA_DIR = ROOT / "tests" / "data" / "hot_issues"
HALVES = ("dev", "heldout")
START = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)  # day 0 of the set, 09:00 local


@dataclass(frozen=True)
class LabelledTicket:
    key: int
    group: str
    text: str
    topic: str
    district: str | None
    reporter: str
    at: datetime
    source: str  # ticket | declined


def load(half: str, data_dir: Path = DATA_DIR) -> list[LabelledTicket]:
    """The tickets of one half, in the order they arrive."""
    groups = yaml.safe_load((data_dir / f"{half}.yml").read_text(encoding="utf-8"))
    out: list[tuple[datetime, int, LabelledTicket]] = []
    seq = 0
    for g_index, group in enumerate(groups):
        first, last = group["days"]
        items = group["texts"]
        reporter = None
        for i, item in enumerate(items):
            if isinstance(item, str):
                item = {"text": item}
            day = first + (last - first) * (i / max(1, len(items) - 1))
            at = START + timedelta(days=day, minutes=7 * g_index + i)
            text = item["text"].strip()
            if item.get("trad"):
                text = to_traditional(text)
            source = item.get("source", "ticket")
            if source == "declined":
                reporter = f"chat:{group['id']}:{i}"
                district = None
            else:
                if not (item.get("same") and reporter):
                    reporter = f"ent:{group['id']}:{i}"
                district = item.get("district", group.get("district"))
            seq += 1
            out.append((at, seq, LabelledTicket(
                key=seq, group=group["id"], text=text, topic=item.get("topic", group["topic"]),
                district=district, reporter=reporter, at=at, source=source)))
    out.sort(key=lambda x: (x[0], x[1]))
    return [t for _, _, t in out]


@dataclass
class Outcome:
    half: str
    tickets: int
    groups_true: int
    ari: float
    true_hot: int
    true_hot_raised: int
    true_hot5: int
    true_hot5_raised: int
    raised: int
    raised_unrelated: int
    raised_mean_purity: float | None
    missed: list[str] = field(default_factory=list)
    impure: list[dict[str, Any]] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        def share(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        return {
            "tickets": self.tickets, "problems": self.groups_true, "ari": round(self.ari, 4),
            "true_hot": self.true_hot, "true_hot_raised": self.true_hot_raised,
            "true_hot_raised_share": share(self.true_hot_raised, self.true_hot),
            "true_hot5": self.true_hot5, "true_hot5_raised": self.true_hot5_raised,
            "true_hot5_raised_share": share(self.true_hot5_raised, self.true_hot5),
            "raised": self.raised, "raised_unrelated": self.raised_unrelated,
            "raised_mean_purity": None if self.raised_mean_purity is None
            else round(self.raised_mean_purity, 4),
        }


def _true_hot(tickets: list[LabelledTicket], config: EngineConfig) -> dict[str, int]:
    """Labelled problems that meet the hot rule on their own → their ticket count."""
    engine = Engine(config)
    by_group: dict[str, list[LabelledTicket]] = defaultdict(list)
    for t in tickets:
        by_group[t.group].append(t)
    hot = {}
    for g, members in by_group.items():
        group_key = members[0].key
        for t in members:
            engine.add(t.key, group_key, {"x": 1.0},
                       Member(t.key, t.at, t.reporter, t.topic, t.district))
        if engine.is_hot(group_key, members[-1].at):
            hot[g] = len(members)
        engine.drop_group(group_key)
    return hot


def run(tickets: list[LabelledTicket], featurizer: Featurizer, config: EngineConfig,
        half: str = "") -> Outcome:
    from sklearn.metrics import adjusted_rand_score

    engine = Engine(config)
    raised: set[int] = set()
    for t in tickets:
        vector = featurizer.embed(t.text)
        placement = engine.place(vector, t.at, t.topic, t.district)
        group_key = placement.group if placement.group is not None else t.key
        engine.add(t.key, group_key, vector, Member(t.key, t.at, t.reporter, t.topic, t.district))
        if group_key not in raised and engine.is_hot(group_key, t.at):
            raised.add(group_key)
            engine.groups[group_key].issue_id = group_key
    predicted = [engine.doc_group[t.key] for t in tickets]
    truth = [t.group for t in tickets]
    ari = adjusted_rand_score(truth, predicted)

    label_of = {t.key: t.group for t in tickets}
    sizes = Counter(truth)
    true_hot = _true_hot(tickets, config)
    covered: set[str] = set()
    unrelated = 0
    purities = []
    impure = []
    for key in raised:
        labels = Counter(label_of[m.key] for m in engine.groups[key].members)
        top, count = labels.most_common(1)[0]
        purity = count / sum(labels.values())
        purities.append(purity)
        if purity < 0.5:
            unrelated += 1
        if purity < 1.0:
            impure.append({"majority": top, "labels": dict(labels)})
        if count * 2 >= sizes[top]:
            covered.add(top)
    hot5 = {g for g, n in true_hot.items() if n >= 5}
    return Outcome(
        half=half, tickets=len(tickets), groups_true=len(sizes), ari=ari,
        true_hot=len(true_hot), true_hot_raised=len(covered & set(true_hot)),
        true_hot5=len(hot5), true_hot5_raised=len(covered & hot5),
        raised=len(raised), raised_unrelated=unrelated,
        raised_mean_purity=sum(purities) / len(purities) if purities else None,
        missed=sorted(set(true_hot) - covered), impure=impure,
    )


def evaluate(halves: tuple[str, ...] = HALVES, feature_config: FeatureConfig | None = None,
             engine_config: EngineConfig | None = None) -> dict[str, Outcome]:
    from hotline.hot.settings import engine_config as configured

    featurizer = get_featurizer(feature_config or FeatureConfig())
    config = engine_config or configured()
    return {half: run(load(half), featurizer, config, half) for half in halves}


def main(halves: tuple[str, ...] = HALVES, verbose: bool = True) -> int:
    outcomes = evaluate(halves)
    summary: dict[str, Any] = {}
    for half, outcome in outcomes.items():
        figures = outcome.figures()
        summary[half] = figures
        if verbose:
            print(f"[{half}] 工单 {figures['tickets']} 件，标注问题 {figures['problems']} 个")
            print(f"  ARI {figures['ari']:.3f}")
            print(f"  真实热点 {figures['true_hot']} 个，识别 {figures['true_hot_raised']} 个；"
                  f"5 件以上的真实热点 {figures['true_hot5']} 个，识别 {figures['true_hot5_raised']} 个")
            print(f"  提出热点 {figures['raised']} 个，由无关工单组成 {figures['raised_unrelated']} 个，"
                  f"平均纯度 {figures['raised_mean_purity']}")
            if outcome.missed:
                print(f"  未识别：{', '.join(outcome.missed)}")
            for item in outcome.impure:
                print(f"  混入：{item['majority']} ← {item['labels']}")
    # Ablation: the same engine without the wording classes (hotline/data/hot_lexicon.yml).
    plain = evaluate(halves, feature_config=FeatureConfig(lexicon=False))
    summary["without_lexicon"] = {half: {"ari": round(o.ari, 4),
                                         "true_hot5_raised_share": o.figures()["true_hot5_raised_share"],
                                         "raised_unrelated": o.raised_unrelated}
                                  for half, o in plain.items()}
    if verbose:
        print("  不用词类（消融）：" + "；".join(
            f"{h} ARI {v['ari']:.3f}" for h, v in summary["without_lexicon"].items()))
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
