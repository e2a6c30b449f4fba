"""Knowledge base of the hotline: statutes, Guangdong service items, curated summaries.

Nothing is loaded at import time; call :func:`hotline.kb.search.search` (which loads the
cached index on first use via :func:`hotline.kb.index.get_index`) or the CLI
``python -m hotline kb build|search|eval``.
"""
