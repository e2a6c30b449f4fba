"""``python -m hotline kb build|search|eval``.

``register`` only declares arguments: importing jieba or reading the index happens
inside the commands, so the rest of the ``hotline`` CLI stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    kb = subparsers.add_parser("kb", help="知识库：构建索引、检索、评测")
    sub = kb.add_subparsers(dest="kb_command", required=True)

    build = sub.add_parser("build", help="(re)build the search index from kb/")
    build.add_argument("--if-stale", action="store_true", help="only rebuild when sources changed")
    build.set_defaults(func=cmd_build)

    search = sub.add_parser("search", help="search the knowledge base")
    search.add_argument("question", nargs="?", default="", help="the question, in plain words")
    search.add_argument("--topic", default=None, help="boost entries of this topic intent")
    search.add_argument("-k", type=int, default=5, help="number of results (default 5)")
    search.add_argument("--json", action="store_true", help="print JSON instead of a listing")
    search.set_defaults(func=cmd_search)

    ev = sub.add_parser("eval", help="hit@1 / hit@3 / MRR on a question file (JSON lines)")
    ev.add_argument("file", type=Path)
    ev.add_argument("--use-topic", action="store_true", help="pass each question's gold topic")
    ev.add_argument("--nlu-topics", nargs="?", type=Path, const=True, default=None,
                    metavar="CACHE",
                    help="pass the topic the NLU predicted for each question, as production "
                         "does (cache written by bench/nlu_topics_kb.py; default "
                         "tests/data/nlu_topics_of_kb_questions.json)")
    ev.set_defaults(func=cmd_eval)

    tr = sub.add_parser("train-reranker",
                        help="learn the reranker's weights from kb/training (→ kb/reranker.json)")
    tr.add_argument("--glosses", action="store_true",
                    help="also train on held-out glosses of statute articles")
    tr.set_defaults(func=cmd_train_reranker)

    ta = sub.add_parser("train-answerability",
                        help="learn when to decline from kb/training (→ kb/answerability.json)")
    ta.set_defaults(func=cmd_train_answerability)


def cmd_build(args: argparse.Namespace) -> int:
    from hotline.kb import index

    loaded = index.load(rebuild=not args.if_stale)
    counts: dict[str, int] = {}
    for e in loaded.entries:
        counts[e.source] = counts.get(e.source, 0) + 1
    took = f"{loaded.built_seconds:.2f}s" if loaded.built_seconds is not None else "up to date"
    parts = ", ".join(f"{k} {v}" for k, v in counts.items())
    print(f"kb index: {len(loaded)} entries ({parts}); {took}; {loaded.path}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from hotline.kb.search import MSG_UNKNOWN_TOPIC, search
    from hotline.kb.topics import topic_labels, topic_names

    if args.topic and args.topic not in topic_names():
        print(MSG_UNKNOWN_TOPIC.format(topic=args.topic), file=sys.stderr)
        print("可用主题：" + " ".join(topic_names()), file=sys.stderr)
        return 2
    result = search(args.question, topic=args.topic, k=args.k)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=1))
        return 0
    if result.message:
        print(result.message)
    labels = topic_labels()
    for hit in result.hits:
        e = hit.entry
        kind = {"laws": "法规", "gd_service_items": "服务事项", "curated": "政策指引"}[e.source]
        where = f" {e.article}" if e.article else ""
        dept = f" · {e.department}" if e.department else ""
        print(
            f"{hit.rank}. 【{kind}】{e.title}{where}  ({hit.score:.2f}, {labels.get(e.topic, e.topic)}{dept})"
        )
        snippet = " ".join(e.summary.split())
        print(f"   {snippet[:80]}{'…' if len(snippet) > 80 else ''}")
    if result.hits:
        print("（有把握）" if result.confident else "（把握不大）")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from hotline.kb.evaluate import evaluate, format_report, load_questions

    if not args.file.exists():
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    questions = load_questions(args.file)
    predicted = None
    if args.nlu_topics is not None:
        from hotline.kb import nlu_topics

        path = None if args.nlu_topics is True else args.nlu_topics
        try:
            predicted = nlu_topics.load((q.question for q in questions), path)
        except (OSError, nlu_topics.StaleCache) as exc:
            print(f"{exc}; rerun .venv-rasa/bin/python bench/nlu_topics_kb.py", file=sys.stderr)
            return 2
    report = evaluate(questions, use_topic=args.use_topic, nlu_topics=predicted)
    for line in format_report(report):
        print(line)
    return 0


def cmd_train_reranker(args: argparse.Namespace) -> int:
    from hotline.kb.rerank import FEATURES
    from hotline.kb.rerank_train import save, train

    try:
        reranker, stats = train(use_glosses=args.glosses)
    except ValueError as exc:
        print(f"reranker not trained: {exc}", file=sys.stderr)
        return 1
    path = save(reranker, stats)
    print(" ".join(f"{k}={v}" for k, v in stats.items()))
    for name, weight in zip(FEATURES, reranker.weights, strict=True):
        print(f"  {name:20s} {weight:+.3f}")
    print(f"saved {path} (training data {reranker.trained_on})")
    return 0



def cmd_train_answerability(args: argparse.Namespace) -> int:
    from hotline.kb import paths
    from hotline.kb.answerable_train import train
    from hotline.kb.index import get_index

    kb = paths.kb_dir()
    try:
        stats = train(kb, get_index())
    except ValueError as exc:
        print(f"answerability model not trained: {exc}", file=sys.stderr)
        return 1
    print(" ".join(f"{k}={v}" for k, v in stats.items()))
    print(f"saved {kb / 'answerability.json'}")
    return 0
