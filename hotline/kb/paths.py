"""Where the knowledge base reads its sources and keeps its index.

Everything is resolved relative to the repository (never ../shared), so a user's clone
works on its own; environment variables let tests and deployments point elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Directory with ``sources/`` (laws, service items), ``curated/`` and ``synonyms.yml``.
KB_DIR_ENV = "HOTLINE_KB_DIR"
#: Directory of the on-disk index cache.
INDEX_DIR_ENV = "HOTLINE_KB_INDEX"
#: Optional jieba user dictionary of domain terms (written by the NLU work).
USERDICT_ENV = "HOTLINE_JIEBA_USERDICT"


def kb_dir() -> Path:
    return Path(os.environ.get(KB_DIR_ENV) or REPO_ROOT / "kb")


def index_dir() -> Path:
    return Path(os.environ.get(INDEX_DIR_ENV) or REPO_ROOT / "var" / "kb_index")


def userdict_path() -> Path:
    return Path(os.environ.get(USERDICT_ENV) or REPO_ROOT / "nlu" / "jieba" / "userdict.txt")


def intents_path() -> Path:
    return REPO_ROOT / "hotline" / "data" / "intents.yml"
