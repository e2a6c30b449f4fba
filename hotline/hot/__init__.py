"""Hot issues (热点问题): many enterprises raising the same problem within a short time.

- :mod:`hotline.hot.features` turns a ticket's text into weighted terms (jieba words,
  a few wording classes), with no model downloaded;
- :mod:`hotline.hot.engine` groups texts as they arrive (incremental, centroid linkage)
  and says when a group becomes a hot issue — pure Python, no database;
- :mod:`hotline.hot.service` keeps the groups in the database, raises, merges and
  supervises hot issues, and is called when a ticket is created;
- :mod:`hotline.hot.evaluate` measures the grouping on the hand-labelled set
  (``make eval-hot``).

Nothing is loaded at import time.
"""
