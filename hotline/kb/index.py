"""Building, caching and loading the BM25 index.

The index lives on disk (``var/kb_index/`` or ``$HOTLINE_KB_INDEX``) in a sub-directory
named after a fingerprint of everything that shapes it — sources, curated YAML,
synonyms, the jieba user dictionary and this package's code — so a change to any of
them triggers a rebuild on the next load, and an unchanged tree is never rebuilt.
Builds write to a temporary directory first and rename it into place, so a crashed or
concurrent build never leaves a half-written index behind.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from hotline.kb import dense as kb_dense
from hotline.kb import paths
from hotline.kb import sentences as kb_sentences
from hotline.kb.answerable import MODEL_FILE, Answerability, load_answerability, model_path
from hotline.kb.aspects import ASPECTS, states
from hotline.kb.decide import idf_table
from hotline.kb.ingest import load_corpus
from hotline.kb.models import Entry
from hotline.kb.priors import ItemPriors
from hotline.kb.rerank import (
    RERANKER_FILE,
    EntryCache,
    Reranker,
    load_reranker,
    phrasings,
    reranker_path,
)
from hotline.kb.textproc import KbTokenizer, SynonymRule, char_bigrams, load_synonyms
from hotline.kb.topics import TOPIC_KEYWORDS
from hotline.kb.typos import Homophones

log = logging.getLogger(__name__)

#: Bump when the on-disk layout changes in a way the code fingerprint would not catch.
FORMAT_VERSION = "5"
SYNONYMS_FILE = "synonyms.yml"
_CODE_FILES = (
    "ingest.py", "statutes.py", "service_items.py", "curated.py", "source_fields.py",
    "index.py", "dense.py", "sentences.py", "item_filter.py", "models.py", "numerals.py", "textproc.py", "topics.py",
)
# (priors.py and search.py act at query time and do not shape the stored index.)
_BM25_PARAMS = {"k1": 1.2, "b": 0.75}


@dataclass
class KbIndex:
    """Entries plus four BM25 models: words of the whole text ("body"), words of the
    names only ("title"), character pairs of the whole text ("chars"), and words of the
    everyday phrasings only ("phrases": statute glosses, curated keywords)."""

    entries: tuple[Entry, ...]
    body: bm25s.BM25
    title: bm25s.BM25
    chars: bm25s.BM25
    phrases: bm25s.BM25
    tokenizer: KbTokenizer
    synonyms: tuple[SynonymRule, ...]
    fingerprint: str
    path: Path
    built_seconds: float | None = None
    reranker: Reranker | None = None  # the second stage (kb/reranker.json), if trained
    dense: kb_dense.DenseModel | None = None  # the corpus-trained LSA vectors
    #: The learned second opinion on declining (kb/answerability.json), if trained.
    answerability: Answerability | None = None
    #: The pretrained sentence encoder's vectors of every entry (:mod:`hotline.kb.sentences`).
    sentences: kb_sentences.SentenceVectors | None = None
    topics: np.ndarray = field(init=False)
    priors: ItemPriors = field(init=False)
    idf: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        self.topics = np.array([e.topic for e in self.entries], dtype=object)
        self.priors = ItemPriors(self.entries)
        self.idf = idf_table(document_frequencies(self.body), len(self.entries))

    def __len__(self) -> int:
        return len(self.entries)

    @functools.cached_property
    def aspect_masks(self) -> dict[str, np.ndarray]:
        """Aspect name → which entries state that part (see :func:`aspects.states`)."""
        return {
            a.name: np.array([states(e, a) for e in self.entries], dtype=bool) for a in ASPECTS
        }

    @functools.cached_property
    def homophones(self) -> Homophones:
        """The corpus's common words by sound (:mod:`hotline.kb.typos`)."""
        return Homophones(self.idf)

    @functools.cached_property
    def entry_cache(self) -> EntryCache:
        return EntryCache(self.entries)

    @functools.cached_property
    def by_id(self) -> dict[str, Entry]:
        return {e.id: e for e in self.entries}

    @functools.cached_property
    def corpus_text(self) -> str:
        """Everything the knowledge base says, lower-cased (is a word used anywhere?)."""
        return "\n".join(self.entry_cache.haystacks)

    @functools.cached_property
    def presence_text(self) -> str:
        """:attr:`corpus_text` and every synonym rule's phrases: is a term said anywhere?"""
        rules = "\n".join(" ".join((*r.say, r.means)) for r in self.synonyms)
        return f"{self.corpus_text}\n{rules.lower()}"


def document_frequencies(model: bm25s.BM25) -> dict[str, int]:
    """Number of entries each indexed word occurs in (from the sparse score matrix)."""
    indptr = np.asarray(model.scores["indptr"])
    counts = np.diff(indptr)
    return {w: int(counts[i]) for w, i in model.vocab_dict.items() if 0 <= i < len(counts)}


def _hash_files(h: Any, files: list[Path], root: Path) -> None:
    for path in files:
        h.update(str(path.relative_to(root)).encode("utf-8"))
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")


def fingerprint(kb: Path | None = None) -> str:
    """Hash of every input of the index (sources, curated, glosses, synonyms, userdict,
    code)."""
    kb = kb or paths.kb_dir()
    h = hashlib.sha256(f"kb-index:{FORMAT_VERSION}".encode())
    files = sorted(p for p in (kb / "sources").rglob("*") if p.is_file())
    files += sorted((kb / "curated").glob("*.yml"))
    files += sorted((kb / "glosses").glob("*.yml"))
    for name in (SYNONYMS_FILE, RERANKER_FILE, MODEL_FILE):
        if (kb / name).exists():
            files.append(kb / name)
    _hash_files(h, files, kb)
    userdict = paths.userdict_path()
    h.update(b"userdict:" + (userdict.read_bytes() if userdict.exists() else b""))
    here = Path(__file__).parent
    _hash_files(h, [here / name for name in _CODE_FILES], here)
    return h.hexdigest()


def _extra_words(
    kb: Path, synonyms: tuple[SynonymRule, ...], entries: tuple[Entry, ...]
) -> list[str]:
    """Domain words jieba must keep whole: synonym phrases, topic keywords, curated keywords."""
    words: set[str] = set()
    for rule in synonyms:
        words.update(w for w in rule.say if "*" not in w)
        words.update(rule.means.split())
    for kws in TOPIC_KEYWORDS.values():
        words.update(kws)
    for e in entries:
        if e.source == "curated":
            words.update(e.keywords)
    return sorted(w for w in words if 2 <= len(w) <= 12)


def make_tokenizer(
    kb: Path, entries: tuple[Entry, ...]
) -> tuple[KbTokenizer, tuple[SynonymRule, ...]]:
    synonyms = load_synonyms(kb / SYNONYMS_FILE)
    tokenizer = KbTokenizer(paths.userdict_path(), _extra_words(kb, synonyms, entries))
    return tokenizer, synonyms


def title_text(e: Entry) -> str:
    """What counts as the entry's name: a law's name and chapter, else the title."""
    if e.source == "laws":
        return f"{e.keywords[0] if e.keywords else ''} {e.chapter or ''}"
    return e.title


def body_text(e: Entry) -> str:
    if e.source == "laws":  # the article, then its glosses (keywords[0] is the law's name)
        return "\n".join((e.text, *e.keywords[1:]))
    if e.source == "curated":
        return f"{e.title}\n{' '.join(e.keywords)}\n{e.text}"
    return f"{e.title}\n{e.text}"


def phrase_text(e: Entry) -> str:
    """The everyday phrasings written for an entry: a statute article's glosses, a curated
    entry's keywords (service items have none: their themes are catalogue categories)."""
    if e.source == "laws":
        return " ".join(e.keywords[1:])
    if e.source == "curated":
        return " ".join(e.keywords)
    return e.title


def dense_text(e: Entry) -> str:
    """What the dense model reads of an entry: its name, text and everyday phrasings."""
    return f"{title_text(e)}\n{body_text(e)}"


def _bm25(corpus_tokens: list[list[str]]) -> bm25s.BM25:
    model = bm25s.BM25(**_BM25_PARAMS)
    model.index(corpus_tokens, show_progress=False)
    return model


def build(kb: Path | None = None, out_root: Path | None = None) -> KbIndex:
    """Build the index from the sources and write it under ``out_root/<fingerprint>``."""
    started = time.perf_counter()
    kb = kb or paths.kb_dir()
    out_root = out_root or paths.index_dir()
    fp = fingerprint(kb)
    corpus = load_corpus(kb)
    entries = corpus.entries
    tokenizer, synonyms = make_tokenizer(kb, entries)
    body = _bm25([tokenizer.tokens(body_text(e)) for e in entries])
    title = _bm25([tokenizer.tokens(title_text(e)) for e in entries])
    chars = _bm25([char_bigrams(body_text(e)) for e in entries])
    phrases = _bm25([tokenizer.tokens(phrase_text(e)) or ["\u3000"] for e in entries])
    dense = kb_dense.fit([dense_text(e) for e in entries])
    sentences = kb_sentences.fit(entries, [phrasings(e) for e in entries])
    elapsed = time.perf_counter() - started

    out_root.mkdir(parents=True, exist_ok=True)
    target = out_root / fp[:16]
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=out_root))
    try:
        body.save(str(tmp / "body"), show_progress=False)
        title.save(str(tmp / "title"), show_progress=False)
        chars.save(str(tmp / "chars"), show_progress=False)
        phrases.save(str(tmp / "phrases"), show_progress=False)
        dense.save(tmp / kb_dense.FILE)
        sentences.save(tmp / kb_sentences.FILE)
        with (tmp / "entries.jsonl").open("w", encoding="utf-8") as fh:
            for e in entries:
                fh.write(json.dumps(e.to_dict(), ensure_ascii=False) + "\n")
        manifest = {
            "fingerprint": fp,
            "format": FORMAT_VERSION,
            "counts": corpus.counts(),
            "built_seconds": round(elapsed, 3),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished the same build first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(out_root, keep=target.name)
    return KbIndex(entries, body, title, chars, phrases, tokenizer, synonyms, fp, target,
                   elapsed, load_reranker(reranker_path(kb)), dense,
                   load_answerability(model_path(kb)), sentences)


def _prune(out_root: Path, keep: str) -> None:
    """Remove stale index versions (best effort; a reader may still hold one open)."""
    for child in out_root.iterdir():
        if child.is_dir() and child.name != keep and not child.name.startswith(".build-"):
            if (child / "manifest.json").exists():
                shutil.rmtree(child, ignore_errors=True)


def _read(target: Path, kb: Path, fp: str) -> KbIndex | None:
    manifest_path = target / "manifest.json"
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("fingerprint") != fp:
            return None
        with (target / "entries.jsonl").open(encoding="utf-8") as fh:
            entries = tuple(Entry.from_dict(json.loads(line)) for line in fh if line.strip())
        body = bm25s.BM25.load(str(target / "body"), show_progress=False)
        title = bm25s.BM25.load(str(target / "title"), show_progress=False)
        chars = bm25s.BM25.load(str(target / "chars"), show_progress=False)
        phrases = bm25s.BM25.load(str(target / "phrases"), show_progress=False)
        dense = kb_dense.DenseModel.load(target / kb_dense.FILE)
        sentences = kb_sentences.SentenceVectors.load(target / kb_sentences.FILE)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("knowledge-base index at %s is unreadable (%s); rebuilding", target, exc)
        return None
    tokenizer, synonyms = make_tokenizer(kb, entries)
    return KbIndex(entries, body, title, chars, phrases, tokenizer, synonyms, fp, target,
                   reranker=load_reranker(reranker_path(kb)), dense=dense,
                   answerability=load_answerability(model_path(kb)), sentences=sentences)


def load(kb: Path | None = None, out_root: Path | None = None, rebuild: bool = False) -> KbIndex:
    """The index for the current sources: read from disk, or (re)built when stale."""
    kb = kb or paths.kb_dir()
    out_root = out_root or paths.index_dir()
    fp = fingerprint(kb)
    if not rebuild:
        found = _read(out_root / fp[:16], kb, fp)
        if found is not None:
            return found
    return build(kb, out_root)


_lock = threading.Lock()
_cached: KbIndex | None = None
_checked_at = 0.0
#: The thread loading an index for changed sources, while the old one keeps serving.
_refreshing: threading.Thread | None = None
#: Sources whose refresh failed: not tried again until they change.
_failed_fingerprint: str | None = None
STALE_CHECK_S = 10.0  # how often a long-running process looks for edited sources


def get_index() -> KbIndex:
    """The process-wide index, loaded on first use (never at import time) and refreshed when
    the sources changed (e.g. a curated entry edited in the console), checked every
    :data:`STALE_CHECK_S` seconds.

    A refresh loads (or builds, ~10 s) the new index on a background thread; until it is
    ready every search is answered from the old one, so an edit in the console never stalls
    the conversations under way."""
    global _cached, _checked_at, _refreshing
    with _lock:
        now = time.monotonic()
        if _cached is None:
            _cached = load()
            _checked_at = now
        elif now - _checked_at >= STALE_CHECK_S and _refreshing is None:
            _checked_at = now
            fp = fingerprint(paths.kb_dir())
            if fp not in (_cached.fingerprint, _failed_fingerprint):
                _refreshing = threading.Thread(target=_refresh, args=(fp,),
                                               name="kb-index-refresh", daemon=True)
                _refreshing.start()
        return _cached


def _refresh(fp: str) -> None:
    """Load the index of the current sources (fingerprint ``fp`` when looked at) and put it
    in place of the cached one."""
    global _cached, _refreshing, _failed_fingerprint
    try:
        fresh = load()
    except Exception:  # the sources are mid-edit or broken: keep serving the old index
        log.exception("knowledge-base index refresh failed; the previous index keeps serving")
        fresh = None
    with _lock:
        if fresh is not None and _cached is not None:
            _cached = fresh
        _failed_fingerprint = None if fresh is not None else fp
        _refreshing = None


def wait_for_refresh(timeout: float | None = None) -> None:
    """Block until a refresh under way has finished (tests, the command line)."""
    thread = _refreshing
    if thread is not None:
        thread.join(timeout)


def reset_cache() -> None:
    """Forget the loaded index (tests; a long-running bot after the sources changed)."""
    global _cached
    with _lock:
        _cached = None
