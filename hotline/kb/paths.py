"""Where the knowledge base reads its sources and keeps its index.

Everything is resolved relative to the repository (never ../shared), so a user's clone
works on its own; settings (``HOTLINE_KB_DIR``, ``HOTLINE_KB_INDEX``,
``HOTLINE_JIEBA_USERDICT``: :class:`hotline.settings.Settings`) let tests and deployments
point elsewhere. They are read as they are now, so a test that changes one is followed.
Where pydantic-settings is not installed (the Rasa environment) the same variables are read
from the environment directly.
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


def _setting(field: str, env: str) -> str:
    try:
        from hotline.settings import current_settings
    except ImportError:  # the Rasa environment has no pydantic-settings
        return os.environ.get(env, "")
    return str(getattr(current_settings(), field))


def kb_dir() -> Path:
    return Path(_setting("kb_dir", KB_DIR_ENV) or REPO_ROOT / "kb")


def index_dir() -> Path:
    return Path(_setting("kb_index", INDEX_DIR_ENV) or REPO_ROOT / "var" / "kb_index")


def userdict_path() -> Path:
    return Path(_setting("jieba_userdict", USERDICT_ENV) or REPO_ROOT / "nlu" / "jieba" / "userdict.txt")
