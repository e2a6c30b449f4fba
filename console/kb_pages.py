"""Knowledge base: search as the bot does, and edit curated entries (supervisor, admin).

- ``GET /console/kb?q=…&topic=…`` — every role. Runs :func:`hotline.kb.search.search`
  exactly as the bot (same index, same topic boost) and shows each hit with what the bot
  would send (:func:`hotline.kb.render.answer_lines`, shown as plain text), its source
  citation, and whether the bot would answer from the top hit (``confident``). Below: the
  questions the bot declined (grouped, with counts: what to add), then the curated
  entries (from the YAML files, so a just-saved entry shows at once).
- ``GET/POST /console/kb/curated/new`` and ``/console/kb/curated/{id}`` — supervisor and
  admin. Saving goes through :mod:`hotline.kb.curated_edit` (build validation, atomic
  write, ``updated_by``/``updated_at`` fields, index cache reset); errors re-show the form
  with what was typed. After a save the index is rebuilt in this request, so the editor
  waits the ~2 s instead of the next operator.

The files edited are those of :func:`hotline.kb.paths.kb_dir` (``$HOTLINE_KB_DIR``).
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from console.auth import Actor
from console.deps import SUPERVISORS, Ctx, CurrentActor, allowed, role
from console.web import render
from hotline.db import session_scope
from hotline.kb import curated_edit, declined
from hotline.kb.curated_form import CuratedEditError, CuratedForm
from hotline.kb.models import Entry, Hit, SearchResult
from hotline.kb.render import answer_lines
from hotline.kb.topics import topic_labels, topic_names

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console")

EDITORS = SUPERVISORS
ONLY_EDITORS = "只有督办人员和管理员可以编辑知识库。"
Editor = Annotated[Actor, role(*EDITORS, message=ONLY_EDITORS)]
EditorPost = Annotated[Actor, role(*EDITORS, message=ONLY_EDITORS, write=True)]
MAX_QUERY = 500
RESULTS = 5
DECLINED_SHOWN = 30
KIND = {"laws": "法规条文", "gd_service_items": "政务服务事项", "curated": "政策指引"}
_TAG_RE = re.compile(r"</?b>")


@dataclass(frozen=True)
class HitView:
    rank: int
    kind: str
    title: str
    topic_zh: str
    department: str | None
    score: str
    source_line: str
    answer: str  # what the bot would send, as plain text (the template escapes it)
    curated_id: str | None


def bot_text(entry: Entry) -> str:
    """The bot's answer as plain text: :func:`answer_lines` without its ``<b>`` markup.

    ``answer_lines`` escapes all data and adds only ``<b>``/``</b>``; removing those and
    unescaping gives back the exact text the enterprise reads.
    """
    return html.unescape(_TAG_RE.sub("", "\n".join(answer_lines(entry)))).strip()


def _hit_view(hit: Hit, labels: dict[str, str]) -> HitView:
    e = hit.entry
    title = e.title + (f" {e.article}" if e.article else "")
    return HitView(
        rank=hit.rank, kind=KIND.get(e.source, e.source), title=title,
        topic_zh=labels.get(e.topic, e.topic), department=e.department,
        score=f"{hit.score:.1f}", source_line=e.source_line, answer=bot_text(e),
        curated_id=e.id.removeprefix("curated:") if e.source == "curated" else None,
    )


def _topics() -> list[tuple[str, str]]:
    labels = topic_labels()
    return [(name, labels.get(name, name)) for name in topic_names()]


@router.get("/kb", response_class=HTMLResponse)
def kb_search(request: Request, ctx: Ctx, actor: CurrentActor, q: str = "", topic: str = "",
              saved: str = "") -> Response:
    from hotline.kb.search import MSG_UNKNOWN_TOPIC, search

    labels = topic_labels()
    query = q.strip()[:MAX_QUERY]
    topic = topic.strip()
    result: SearchResult | None = None
    hits: list[HitView] = []
    error = None
    if topic and topic not in topic_names():
        error, topic = MSG_UNKNOWN_TOPIC.format(topic=topic), ""
    if query:
        try:
            result = search(query, topic=topic or None, k=RESULTS)
            hits = [_hit_view(h, labels) for h in result.hits]
        except Exception:  # a broken source file must not take the page down
            log.exception("knowledge-base search failed")
            error = "知识库索引加载失败，请联系管理员检查知识库文件（python -m hotline kb build）。"
    records = curated_edit.list_entries()
    shown = [r for r in records if not topic or r.topic == topic]
    flash = None
    if saved:
        title = next((r.title for r in records if r.id == saved), None)
        if title is not None:
            flash = f"已保存「{title}」，检索已使用新内容。"
    gaps, gaps_total = _declined(ctx.db_url)
    return render(
        request, "kb.html", actor, title="知识库", q=query, topic=topic, topics=_topics(),
        result=result, hits=hits, error=error, records=shown, total=len(records),
        can_edit=allowed(actor, EDITORS), flash=flash, flash_kind="ok",
        gaps=gaps, gaps_total=gaps_total, topic_labels=labels,
    )


def _declined(db_url: str) -> tuple[list[declined.DeclinedGroup], int]:
    """Questions the bot declined, most asked first (what to add to the knowledge base).

    Its own session, not the request's: the page still searches when the database is down."""
    try:
        with session_scope(db_url) as session:
            return declined.top(session, limit=DECLINED_SHOWN), declined.total(session)
    except Exception:  # the page still searches when the database is unreachable
        log.exception("could not read declined knowledge-base questions")
        return [], 0


def _form_page(request: Request, actor: Actor, form: CuratedForm, create: bool,
               error: str | None = None, status_code: int = 200) -> Response:
    return render(
        request, "kb_curated.html", actor, status_code=status_code,
        title="新建政策指引" if create else f"编辑：{form.title}", form=form, create=create,
        topics=_topics(), flash=error, flash_kind="error",
        action="/console/kb/curated/new" if create else f"/console/kb/curated/{form.id}",
    )


async def _read_form(request: Request) -> CuratedForm:
    data = await request.form()
    values = {}
    for name in CuratedForm.names():
        raw = data.get(name)
        values[name] = raw[:20000] if isinstance(raw, str) else ""
    return CuratedForm(**values)


def _warm_index() -> None:
    """Rebuild the search index now (the save already reset the cached one)."""
    from hotline.kb.index import get_index

    try:
        get_index()
    except Exception:  # the next search reports it; the file itself passed validation
        log.exception("knowledge-base index rebuild after a curated edit failed")


@router.get("/kb/curated/new", response_class=HTMLResponse)
def new_entry(request: Request, actor: Editor, topic: str = "") -> Response:
    form = CuratedForm(topic=topic if topic in topic_names() else "")
    return _form_page(request, actor, form, create=True)


@router.post("/kb/curated/new", response_class=HTMLResponse)
async def create_entry(request: Request, actor: EditorPost) -> Response:
    form = await _read_form(request)
    return await run_in_threadpool(_save, request, actor, form, True)


@router.get("/kb/curated/{entry_id}", response_class=HTMLResponse)
def edit_entry(request: Request, entry_id: str, actor: Editor) -> Response:
    form = curated_edit.load_form(entry_id)
    if form is None:
        return render(request, "error.html", actor, status_code=404, title="条目不存在",
                      message="没有找到这条政策指引（可能已被删除或改名）。")
    return _form_page(request, actor, form, create=False)


@router.post("/kb/curated/{entry_id}", response_class=HTMLResponse)
async def update_entry(request: Request, entry_id: str, actor: EditorPost) -> Response:
    form = await _read_form(request)
    form.id = entry_id  # ids are fixed once created
    return await run_in_threadpool(_save, request, actor, form, False)


def _save(request: Request, actor: Actor, form: CuratedForm, create: bool) -> Response:
    editor = f"{actor.display_name}（{actor.username}）"
    try:
        entry_id = curated_edit.save(form, editor, create=create)
    except CuratedEditError as exc:
        return _form_page(request, actor, form, create, error=str(exc), status_code=400)
    log.info("curated entry %s %s by %s", entry_id, "created" if create else "saved",
             actor.username)
    _warm_index()
    query = urlencode({"q": form.title.strip()[:100], "saved": entry_id})
    return RedirectResponse(f"/console/kb?{query}", status_code=303)
