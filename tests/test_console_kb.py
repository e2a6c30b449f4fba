"""Console knowledge-base pages: search as the bot does, curated-entry editing, roles.

Every test points ``HOTLINE_KB_DIR`` at a copy of ``kb/`` and ``HOTLINE_KB_INDEX`` at a
temporary index directory, so the repository's files and ``var/kb_index`` are never
touched (checked at the end of the module). Read-only tests share one copy and one index
build; tests that post get their own copy.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hotline.kb import curated_edit
from hotline.kb import index as kb_index
from hotline.kb.curated_form import CuratedForm
from tests.console_helpers import ConsoleHarness

REPO_KB = Path(__file__).resolve().parents[1] / "kb"
SCRIPT = "<script>alert(1)</script>"
ENTRY = "open_limited_company"
ENTRY_FILE = "start_business.yml"


def _tree_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module", autouse=True)
def repo_kb_untouched() -> Iterator[None]:
    before = _tree_hash(REPO_KB)
    yield
    assert _tree_hash(REPO_KB) == before, "a console test modified the repository's kb/"


@pytest.fixture(scope="module")
def shared_kb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("console_kb")
    shutil.copytree(REPO_KB, root / "kb")
    return root / "kb", root / "index"


def _point_at(monkeypatch: pytest.MonkeyPatch, kb: Path, index_dir: Path) -> None:
    monkeypatch.setenv("HOTLINE_KB_DIR", str(kb))
    monkeypatch.setenv("HOTLINE_KB_INDEX", str(index_dir))
    kb_index.reset_cache()


@pytest.fixture
def kb_ro(shared_kb: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shared copy (tests using it must not save anything)."""
    _point_at(monkeypatch, *shared_kb)
    yield shared_kb[0]
    kb_index.reset_cache()


@pytest.fixture
def kb_rw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private copy of kb/ with its own index directory."""
    shutil.copytree(REPO_KB, tmp_path / "kb")
    _point_at(monkeypatch, tmp_path / "kb", tmp_path / "index")
    yield tmp_path / "kb"
    kb_index.reset_cache()


def _form(entry_id: str, **changes: str) -> dict[str, str]:
    form = curated_edit.load_form(entry_id)
    assert form is not None
    data = form.as_dict()
    data.update(changes)
    return data


def _rows(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in yaml.safe_load(path.read_text(encoding="utf-8"))["entries"]}


# ------------------------------------------------------------------------------ search


def test_search_shows_hits_with_answer_citation_and_flag(console_app: ConsoleHarness,
                                                         kb_ro: Path) -> None:
    client = console_app.login("op1")
    page = client.get("/console/kb", params={"q": "办理营业执照需要什么材料"})
    assert page.status_code == 200
    assert "市场主体登记管理条例" in page.text  # hits, with their citation
    assert "来源：" in page.text and "机器人的回答全文" in page.text
    assert "把握不大" in page.text or "有把握" in page.text
    assert "/console/static/kb.css" in page.text

    sure = client.get("/console/kb", params={"q": "注册公司需要什么材料"})
    assert "有把握" in sure.text and "机器人会直接回答第 1 条" in sure.text
    first = sure.text.split('class="kb-hit"')[1]
    assert "开办有限责任公司（企业设立登记）" in first
    # the full answer the bot sends: materials, time limit, citation
    assert "所需材料" in first and "公司章程" in first
    assert "办理时限：承诺1个工作日" in first
    assert "来源：市场主体登记管理条例 第十六条" in first
    assert "<b>" not in first  # the Telegram markup is not shown raw
    # the curated list, without edit links for an operator
    assert "政策指引（人工整理条目）" in page.text and "企业歇业备案" in page.text
    assert "/console/kb/curated/" not in page.text


def test_topic_filter_and_unknown_topic(console_app: ConsoleHarness, kb_ro: Path) -> None:
    client = console_app.login("zhujian")  # department staff may search too
    page = client.get("/console/kb", params={"q": "交不起税能不能晚点交", "topic": "tax"})
    assert page.status_code == 200
    assert "延期缴纳税款" in page.text
    assert "企业歇业备案" not in page.text  # the curated list shows the topic's entries only
    odd = client.get("/console/kb", params={"q": "发票", "topic": "nonsense"})
    assert odd.status_code == 200 and "未知的主题" in odd.text


def test_markup_in_the_query_is_escaped(console_app: ConsoleHarness, kb_ro: Path) -> None:
    client = console_app.login("op1")
    page = client.get("/console/kb", params={"q": f'{SCRIPT}"><img src=x>营业执照'})
    assert page.status_code == 200
    assert SCRIPT not in page.text and "<img src=x>" not in page.text
    assert "&lt;script&gt;" in page.text
    empty = client.get("/console/kb", params={"q": SCRIPT})
    assert empty.status_code == 200 and SCRIPT not in empty.text


def test_operator_and_department_cannot_edit(console_app: ConsoleHarness, kb_ro: Path) -> None:
    path = kb_ro / "curated" / ENTRY_FILE
    before = path.read_bytes()
    for username in ("op1", "zhujian"):
        client = console_app.login(username)
        assert client.get(f"/console/kb/curated/{ENTRY}").status_code == 403
        assert client.get("/console/kb/curated/new").status_code == 403
        posted = client.post(f"/console/kb/curated/{ENTRY}",
                             data={**_form(ENTRY, title="改掉"), "csrf_token": client.csrf})
        assert posted.status_code == 403
        created = client.post("/console/kb/curated/new", data={
            **_form(ENTRY, id="sneaky_entry"), "csrf_token": client.csrf})
        assert created.status_code == 403
    assert path.read_bytes() == before


def test_editor_sees_the_form_and_unknown_entries_are_404(console_app: ConsoleHarness,
                                                          kb_ro: Path) -> None:
    client = console_app.login("boss")
    listing = client.get("/console/kb")
    assert f'href="/console/kb/curated/{ENTRY}"' in listing.text
    assert 'href="/console/kb/curated/new"' in listing.text
    page = client.get(f"/console/kb/curated/{ENTRY}")
    assert page.status_code == 200
    assert "开办有限责任公司（企业设立登记）" in page.text
    assert "公司章程\n全体股东" in page.text  # materials one per line
    assert "市场主体登记管理条例 第十六条" in page.text
    assert client.get("/console/kb/curated/no_such_entry").status_code == 404
    assert client.get("/console/kb/curated/..%2Fetc").status_code == 404


# ------------------------------------------------------------------------------ editing


def test_edit_persists_and_the_next_search_finds_it(console_app: ConsoleHarness,
                                                    kb_rw: Path) -> None:
    path = kb_rw / "curated" / ENTRY_FILE
    text_before = path.read_text(encoding="utf-8")
    others_before = {k: v for k, v in _rows(path).items() if k != ENTRY}
    client = console_app.login("boss")
    form = _form(ENTRY)
    materials = form["materials"] + f"\n蓝鲸测试专用承诺书{SCRIPT}"
    response = client.post(f"/console/kb/curated/{ENTRY}", data={
        **form, "materials": materials, "time_limit": "承诺当天办结",
        "csrf_token": client.csrf})
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/console/kb?")

    landing = client.get(response.headers["location"])
    assert "已保存「开办有限责任公司（企业设立登记）」" in landing.text

    rows = _rows(path)
    saved = rows[ENTRY]
    assert saved["materials"][-1] == f"蓝鲸测试专用承诺书{SCRIPT}"
    assert saved["time_limit"] == "承诺当天办结"
    assert saved["updated_by"] == "陈督办（boss）"
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$", saved["updated_at"])
    assert {k: v for k, v in rows.items() if k != ENTRY} == others_before
    text_after = path.read_text(encoding="utf-8")
    assert text_after.startswith(text_before.split("entries:")[0])  # header comment kept
    # the other entries are kept byte for byte (round-trip YAML)
    tail = text_before.split("  - id: company_deregistration", 1)[1]
    assert tail in text_after
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp files

    found = client.get("/console/kb", params={"q": "注册公司需要什么材料"})
    first = found.text.split('class="kb-hit"')[1]
    assert "开办有限责任公司（企业设立登记）" in first
    assert "蓝鲸测试专用承诺书&lt;script&gt;" in first and SCRIPT not in found.text
    assert "办理时限：承诺当天办结" in first
    assert "陈督办（boss）" in found.text  # the list shows who edited


def test_entry_without_a_valid_citation_is_refused(console_app: ConsoleHarness,
                                                   kb_rw: Path) -> None:
    folder = kb_rw / "curated"
    before = _tree_hash(folder)
    client = console_app.login("admin")
    typed = f"新标题{SCRIPT}"
    bad = client.post(f"/console/kb/curated/{ENTRY}", data={
        **_form(ENTRY, title=typed, source="不存在的条例 第九十九条"), "csrf_token": client.csrf})
    assert bad.status_code == 400
    assert "依据「不存在的条例 第九十九条」在知识库的法规条文和政务服务事项中找不到" in bad.text
    assert "新标题&lt;script&gt;" in bad.text and SCRIPT not in bad.text  # what was typed
    assert "不存在的条例 第九十九条</textarea>" in bad.text

    # a statute that exists, but not that article
    wrong_article = client.post(f"/console/kb/curated/{ENTRY}", data={
        **_form(ENTRY, source="市场主体登记管理条例 第九百条"), "csrf_token": client.csrf})
    assert wrong_article.status_code == 400 and "找不到" in wrong_article.text

    missing = client.post(f"/console/kb/curated/{ENTRY}", data={
        **_form(ENTRY, source=""), "csrf_token": client.csrf})
    assert missing.status_code == 400 and "请填写「依据」" in missing.text

    no_summary = client.post(f"/console/kb/curated/{ENTRY}", data={
        **_form(ENTRY, summary="  "), "csrf_token": client.csrf})
    assert no_summary.status_code == 400 and "请填写「摘要」" in no_summary.text

    assert _tree_hash(folder) == before  # nothing written


def test_create_new_entry_and_find_it(console_app: ConsoleHarness, kb_rw: Path) -> None:
    client = console_app.login("admin")
    form = client.get("/console/kb/curated/new?topic=utilities")
    assert form.status_code == 200 and 'value="utilities" selected' in form.text
    data = {
        "id": "test_rooftop_solar", "topic": "utilities", "title": "屋顶光伏并网（测试条目）",
        "summary": "企业在自有厂房屋顶安装分布式光伏，向供电企业申请并网。\n并网验收合格后发电。",
        "materials": "并网申请表\n\n房屋产权证明\n", "steps": "", "time_limit": "",
        "keywords": "屋顶光伏，分布式光伏", "source": "优化营商环境条例 第二十三条",
        "csrf_token": client.csrf,
    }
    response = client.post("/console/kb/curated/new", data=data)
    assert response.status_code == 303, response.text
    rows = _rows(kb_rw / "curated" / "utilities.yml")
    row = rows["test_rooftop_solar"]
    assert row["materials"] == ["并网申请表", "房屋产权证明"]
    assert row["keywords"] == ["屋顶光伏", "分布式光伏"]
    assert row["summary"].startswith("企业在自有厂房") and "\n并网验收" in row["summary"]
    assert row["updated_by"] == "王管理（admin）"
    assert "steps" not in row and "time_limit" not in row

    found = client.get("/console/kb", params={"q": "厂房屋顶装分布式光伏怎么并网"})
    assert "屋顶光伏并网（测试条目）" in found.text.split('class="kb-hit"')[1]

    again = client.post("/console/kb/curated/new", data={**data, "title": "重复"})
    assert again.status_code == 400 and "编号 test_rooftop_solar 已被使用" in again.text
    bad_id = client.post("/console/kb/curated/new", data={**data, "id": "坏编号"})
    assert bad_id.status_code == 400 and "编号只能用小写英文字母" in bad_id.text
    reserved = client.post("/console/kb/curated/new", data={**data, "id": "new"})
    assert reserved.status_code == 400


def test_forged_csrf_and_outdated_copy_are_refused(console_app: ConsoleHarness,
                                                   kb_rw: Path) -> None:
    path = kb_rw / "curated" / ENTRY_FILE
    before = path.read_bytes()
    client = console_app.login("admin")
    forged = client.post(f"/console/kb/curated/{ENTRY}",
                         data={**_form(ENTRY, title="伪造"), "csrf_token": "forged"})
    assert forged.status_code == 403 and "安全校验" in forged.text
    other_site = client.post(f"/console/kb/curated/{ENTRY}",
                             data={**_form(ENTRY, title="伪造"), "csrf_token": client.csrf},
                             headers={"Origin": "https://evil.example"})
    assert other_site.status_code == 403
    assert path.read_bytes() == before

    stale = _form(ENTRY, title="后保存的人")
    curated_edit.save(CuratedForm(**_form(ENTRY, fees="免费")), "别人",
                      create=False)
    refused = client.post(f"/console/kb/curated/{ENTRY}", data={**stale, "csrf_token": client.csrf})
    assert refused.status_code == 400 and "已被他人修改" in refused.text
    assert "后保存的人" in refused.text  # the typed values stay on the form
    assert _rows(path)[ENTRY]["fees"] == "免费"


def test_topic_change_keeps_the_entry_in_its_file(kb_rw: Path) -> None:
    path = kb_rw / "curated" / ENTRY_FILE
    curated_edit.save(CuratedForm(**_form(ENTRY, topic="business_license")),
                      "测试", create=False)
    assert _rows(path)[ENTRY]["topic"] == "business_license"
    record = next(r for r in curated_edit.list_entries() if r.id == ENTRY)
    assert record.topic == "business_license" and record.file == ENTRY_FILE
    curated_edit.save(CuratedForm(**_form(ENTRY, topic="start_business")),
                      "测试", create=False)
    assert "topic" not in _rows(path)[ENTRY]  # back to the file's topic: no override
