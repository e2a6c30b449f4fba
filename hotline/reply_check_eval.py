"""Evaluation of the reply check on the hand-labelled set (``make eval-replies``).

Every (reply, warning) pair is one decision: a warning given and labelled is a true
positive, given and not labelled a false positive, labelled and not given a false
negative. Precision and recall are over all pairs of a half, and per warning.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hotline import reply_check
from hotline.settings import ROOT

DATA_DIR = ROOT / "tests" / "data" / "reply_check"
HALVES = ("dev", "heldout")


@dataclass(frozen=True)
class LabelledReply:
    request: str
    topic: str | None
    text: str
    expect: frozenset[str]


def load(half: str, data_dir: Path = DATA_DIR) -> list[LabelledReply]:
    items = yaml.safe_load((data_dir / f"{half}.yml").read_text(encoding="utf-8"))
    out = []
    for item in items:
        for reply in item["replies"]:
            unknown = set(reply["expect"]) - set(reply_check.CODES)
            if unknown:
                raise ValueError(f"{half}: unknown warning codes {unknown}")
            out.append(LabelledReply(item["request"].strip(), item.get("topic"),
                                     reply["text"].strip(), frozenset(reply["expect"])))
    return out


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def measure(replies: list[LabelledReply]) -> dict[str, Any]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    errors = []
    for r in replies:
        got = set(reply_check.check(r.request, r.text).codes)
        for code in got & r.expect:
            tp[code] += 1
        for code in got - r.expect:
            fp[code] += 1
        for code in r.expect - got:
            fn[code] += 1
        if got != r.expect:
            errors.append({"reply": r.text[:40], "expected": sorted(r.expect), "got": sorted(got)})
    t, p, n = sum(tp.values()), sum(fp.values()), sum(fn.values())
    per_code = {code: {"precision": _ratio(tp[code], tp[code] + fp[code]),
                       "recall": _ratio(tp[code], tp[code] + fn[code]),
                       "labelled": tp[code] + fn[code]} for code in reply_check.CODES}
    exact = sum(1 for r in replies if set(reply_check.check(r.request, r.text).codes) == r.expect)
    return {"replies": len(replies), "warnings_labelled": t + n, "warnings_given": t + p,
            "precision": _ratio(t, t + p), "recall": _ratio(t, t + n),
            "exact_match": _ratio(exact, len(replies)), "per_warning": per_code,
            "errors": errors}


def main(halves: tuple[str, ...] = HALVES, verbose: bool = True) -> int:
    summary = {}
    for half in halves:
        figures = measure(load(half))
        errors = figures.pop("errors")
        summary[half] = figures
        if verbose:
            print(f"[{half}] 答复 {figures['replies']} 条，标注警示 {figures['warnings_labelled']} 条，"
                  f"给出 {figures['warnings_given']} 条")
            print(f"  精确率 {figures['precision']}，召回率 {figures['recall']}，"
                  f"完全一致 {figures['exact_match']}")
            for code, f in figures["per_warning"].items():
                print(f"  {reply_check.TITLES[code]}（{code}）：精确率 {f['precision']}，"
                      f"召回率 {f['recall']}（标注 {f['labelled']}）")
            for e in errors:
                print(f"  ✗ 期望 {e['expected']} 得到 {e['got']}：{e['reply']}")
    print(json.dumps(summary, ensure_ascii=False))
    return 0
