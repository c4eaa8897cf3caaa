"""The official forms (.docx): built from a case driven through the workflow on SQLite and PostgreSQL,
opened again with python-docx and read; the ``yuqing alerts form`` command; the 处理单 in the
evidence ZIP."""

from __future__ import annotations

import asyncio
import io
import zipfile
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import docx
import pytest
import typer
from cases import SETTINGS, T0, Sessions, act, seed_alerts, seed_people
from docx.document import Document
from docx.oxml.ns import qn
from sqlalchemy import update
from typer.testing import CliRunner, Result

from alerts import forms
from alerts.people import add_department, add_user
from alerts.workflow import Request
from crawler.cli_triage import alerts_app
from crawler.types import FetchResult, Hit, Item, TermMatch
from storage import db, queries
from storage import workflow as store
from storage.evidence import EvidenceStore
from storage.models import AlertRow, IncidentRow

M = timedelta(minutes=1)
ASSESSMENT = ("原因：家长在贴吧发帖质疑食堂卫生；传播途径：本地贴吧转发至家长微信群；"
              "特点：情绪化，转发快；拟处置意见：请保教处核实并统一回应")
INSTRUCTION = "请保教处立即核实，当天反馈"
REPLY = "已约谈食堂负责人，留样送检"
CLOSING = "经检测非食物中毒，已在家长群说明，舆情平息，无新增转发"


# --- reading a .docx back ------------------------------------------------------------------------

def read(data: bytes) -> Document:
    assert data[:2] == b"PK"
    return docx.Document(io.BytesIO(data))


def all_text(doc: Document) -> str:
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts += [cell.text for cell in row.cells]
    return "\n".join(parts)


def rows(doc: Document) -> list[list[str]]:
    """Every table row as its distinct cells' texts (a merged cell once)."""
    out = []
    for table in doc.tables:
        for row in table.rows:
            cells: list[str] = []
            seen: set[int] = set()
            for cell in row.cells:
                if id(cell._tc) not in seen:
                    seen.add(id(cell._tc))
                    cells.append(cell.text)
            out.append(cells)
    return out


def after(doc: Document, label: str) -> str:
    """The text of the cell right of the cell ``label`` (the first such label in the document)."""
    for cells in rows(doc):
        for i, text in enumerate(cells[:-1]):
            if text == label:
                return cells[i + 1]
    raise AssertionError(f"no cell {label!r} in {rows(doc)}")


def check_house_style(doc: Document, title: str, unit: str) -> None:
    """Title centred, bold, in 宋体 at 二号; Chinese fonts in w:eastAsia; every table bordered; A4."""
    head = doc.paragraphs[0]
    assert head.text == title and head.alignment == 1  # CENTER
    run = head.runs[0]
    assert run.font.bold and run.font.size.pt == 22
    assert run._element.rPr.rFonts.get(qn("w:eastAsia")) == "宋体"
    assert doc.paragraphs[1].text.startswith(unit)
    fonts = {r._element.rPr.rFonts.get(qn("w:eastAsia")) for t in doc.tables for row in t.rows for c in row.cells
             for p in c.paragraphs for r in p.runs}
    assert fonts <= {"黑体", "仿宋"} and fonts == {"黑体", "仿宋"}
    assert doc.styles["Normal"].element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋"
    for table in doc.tables:
        borders = table._tbl.tblPr.find(qn("w:tblBorders"))
        assert borders is not None
        assert {b.get(qn("w:val")) for b in borders} == {"single"} and len(borders) == 6
    section = doc.sections[0]
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
    headings = [p.text for p in doc.paragraphs if p.text[:2] in ("一、", "二、", "三、", "四、", "五、")]
    assert [h[:2] for h in headings] == ["一、", "二、", "三、", "四、", "五、"][:len(headings)] and len(headings) >= 3


# --- a case driven through the workflow ----------------------------------------------------------

async def closed_case(sessions: Sessions) -> int:
    await seed_people(sessions)
    (alert_id,) = await seed_alerts(sessions)
    await act(sessions, alert_id, "小李", Request("assess", note=ASSESSMENT), T0 + 10 * M)
    await act(sessions, alert_id, "小李", Request("emergency", note="15:20 电话报告王校长"), T0 + 20 * M)
    await act(sessions, alert_id, "小李", Request("report", note="已截图固定证据"), T0 + 60 * M)
    await act(sessions, alert_id, "王校长", Request("dispatch", department="保教处", due=T0 + timedelta(hours=20),
                                                    note=INSTRUCTION), T0 + 70 * M)
    await act(sessions, alert_id, "保教处张", Request("reply", text=REPLY), T0 + 600 * M)
    await act(sessions, alert_id, "小李", Request("close", report=CLOSING), T0 + 900 * M)
    return alert_id


async def case_file(sessions: Sessions, alert_id: int) -> store.CaseFile:
    async with sessions() as s:
        return await store.load_case_file(s, alert_id)


async def test_the_three_forms_of_a_closed_case(sessions: Sessions) -> None:
    alert_id = await closed_case(sessions)
    file = await case_file(sessions, alert_id)
    assert [s.entry.action for s in file.history] == ["assess", "emergency", "report", "dispatch", "reply", "close"]
    assert [s.role for s in file.history] == ["operator", "operator", "operator", "leader", "department", "operator"]
    assert file.department_contacts == ("保教处主任 0972-1234567",)
    assert [c.alert_id for c in file.copies] == [alert_id]  # an incident of one page: no repost yet
    at = T0 + 1000 * M
    names = {"county-news": "化隆县新闻网"}

    # 处理单
    doc = read(forms.build_report_form(file, institution="化隆县第二幼儿园", settings=SETTINGS, source_names=names,
                                       generated_at=at))
    check_house_style(doc, "舆情信息报告处理单", "填报单位：化隆县第二幼儿园")
    assert doc.paragraphs[1].text.endswith(f"编号：{alert_id}")
    assert after(doc, "编号") == str(alert_id)
    assert after(doc, "链接") == "http://news.example.cn/重大/0.html"
    assert after(doc, "标题") == "化隆二幼多名幼儿呕吐 0"
    assert after(doc, "来源") == "化隆县新闻网（county-news）"
    assert after(doc, "等级") == "重大　紧急"
    assert after(doc, "发现时间") == "2026年9月30日 15:00" and after(doc, "发布时间") == "不详"
    assert (after(doc, "类别"), after(doc, "规则"), after(doc, "命中词")) == ("安全生产", "food-safety", "化隆二幼")
    assert after(doc, "紧急报告") == "已先电话报告：15:20 电话报告王校长（小李，2026年9月30日 15:20）"
    assert after(doc, "命中摘要") == "【化隆二幼】多名幼儿呕吐"
    assert after(doc, "正文节选") == "化隆二幼多名幼儿呕吐，家长质疑食堂"
    assert after(doc, "原因") == "家长在贴吧发帖质疑食堂卫生"
    assert after(doc, "传播途径") == "本地贴吧转发至家长微信群"
    assert after(doc, "特点") == "情绪化，转发快"
    assert after(doc, "拟处置意见") == "请保教处核实并统一回应"
    assert after(doc, "研判记录") == "小李（2026年9月30日 16:00，上报领导）：已截图固定证据"
    # the deadlines: 重大 — the leader within 2 h; the 处理单 one working day after 国庆 (10月8日)
    deadlines = {cells[0]: cells[1:] for cells in rows(doc) if len(cells) == 3}
    assert deadlines["报告领导"] == ["2026年9月30日 17:00", "已完成（2026年9月30日 16:00）"]
    assert deadlines["报送处理单"] == ["2026年10月8日 15:00", "已完成（2026年9月30日 16:00）"]
    assert deadlines["跟踪处置结果"][0] == "2026年10月1日 15:00"
    assert deadlines["部门反馈"][0] == "2026年10月1日 11:00"
    instruction = after(doc, "领导批示")
    assert f"王校长（2026年9月30日 16:10，交办）：{INSTRUCTION}" in instruction and "签字：" in instruction
    text = all_text(doc)
    assert "填报人：小李" in text and "填报日期：2026年9月30日" in text
    assert "生成于 2026年10月1日 07:40" in text and "已结案" in text
    assert doc.core_properties.title == "舆情信息报告处理单" and doc.core_properties.author == "化隆县第二幼儿园"

    # 交办单
    doc = read(forms.build_dispatch_form(file, institution="化隆县第二幼儿园", generated_at=at))
    check_house_style(doc, "舆情处置交办单", "交办单位：化隆县第二幼儿园")
    assert after(doc, "承办部门") == "保教处"
    assert after(doc, "联系人") == "保教处主任 0972-1234567"
    assert after(doc, "来源") == "county-news"
    assert after(doc, "舆情摘要").startswith("【化隆二幼】多名幼儿呕吐")
    assert after(doc, "交办要求") == INSTRUCTION
    assert (after(doc, "交办人"), after(doc, "交办时间")) == ("王校长", "2026年9月30日 16:10")
    assert after(doc, "办结时限") == "2026年10月1日 11:00前反馈处置结果"
    assert after(doc, "承办人签字").strip() == ""
    assert after(doc, "处置情况") == REPLY
    assert (after(doc, "反馈人"), after(doc, "反馈时间")) == ("保教处张", "2026年10月1日 01:00")

    # 结案报告
    doc = read(forms.build_closing_report(file, institution="化隆县第二幼儿园", generated_at=at))
    check_house_style(doc, "舆情处置结案报告", "报告单位：化隆县第二幼儿园")
    timeline = [cells for cells in rows(doc) if len(cells) == 5]
    assert timeline[0] == ["序号", "时间", "操作人", "操作", "说明"]
    assert [(r[0], r[2], r[3]) for r in timeline[1:]] == [
        ("1", "小李", "开始研判\n（待研判→研判中）"), ("2", "小李", "标记紧急（先电话报告）\n（研判中）"),
        ("3", "小李", "上报领导\n（研判中→已上报）"), ("4", "王校长", "交办\n（已上报→已交办）"),
        ("5", "保教处张", "反馈处置结果\n（已交办→已反馈）"), ("6", "小李", "结案\n（已反馈→已结案）")]
    assert [r[1] for r in timeline[1:]] == ["2026年9月30日\n15:10", "2026年9月30日\n15:20", "2026年9月30日\n16:00",
                                           "2026年9月30日\n16:10", "2026年10月1日\n01:00", "2026年10月1日\n06:00"]
    assert timeline[4][4] == f"交办保教处；期限2026年10月1日 11:00；{INSTRUCTION}"
    assert timeline[1][4] == ASSESSMENT
    assert after(doc, "处置结果") == f"{REPLY}\n（保教处 保教处张 反馈于 2026年10月1日 01:00）"
    assert after(doc, "效果评估") == CLOSING
    assert (after(doc, "结案时间"), after(doc, "结案人")) == ("2026年10月1日 06:00", "小李")
    assert after(doc, "责任部门") == "保教处"

    # the same through the dispatcher used by the command line, straight from the database
    async with sessions() as s:
        data = await forms.render_form(s, alert_id, "close", generated_at=at)
    assert CLOSING in all_text(read(data)) and "报告单位：本单位（盖章）" in all_text(read(data))
    with pytest.raises(store.NotFound):
        async with sessions() as s:
            await forms.render_form(s, 999, "处理单")


async def test_forms_of_a_new_case_leave_room_to_write(sessions: Sessions) -> None:
    (alert_id,) = await seed_alerts(sessions, grade="一般")
    file = await case_file(sessions, alert_id)
    assert file.history == () and file.department_contacts == ()
    at = T0 + 30 * M

    doc = read(forms.build_report_form(file, generated_at=at))
    assert doc.paragraphs[1].text.startswith("填报单位：本单位（盖章）")
    assert after(doc, "等级") == "一般"
    for part in ("原因", "传播途径", "特点", "拟处置意见"):
        assert after(doc, part).strip() == "", part  # blank lines to write the 研判 by hand
    assert "研判记录" not in all_text(doc) and "紧急报告" not in all_text(doc)
    # 一般: dispatch within 24 h (at the latest 48 h); the deadlines come from the grade though never stored
    deadlines = {cells[0]: cells[1:] for cells in rows(doc) if len(cells) == 3}
    assert set(deadlines) == {"事项", "交办责任部门", "交办（最迟）", "报送处理单"}
    assert deadlines["交办责任部门"] == ["2026年10月1日 15:00", "未完成，剩余23小时30分"]
    box = after(doc, "领导批示")
    assert box.strip().startswith("签字：") and "年" in box
    assert "填报人：　" in all_text(doc) and "填报日期：　　　　年　　月　　日" in all_text(doc)
    assert "未完成，已超时" in all_text(read(forms.build_report_form(file, generated_at=T0 + timedelta(days=2))))

    doc = read(forms.build_dispatch_form(file, generated_at=at))
    assert after(doc, "承办部门").strip() == "" and after(doc, "办结时限").strip() == ""
    assert after(doc, "交办要求").startswith("请核实情况")
    assert after(doc, "处置情况").strip() == ""

    doc = read(forms.build_closing_report(file, generated_at=at))
    assert "（尚无处置记录）" in all_text(doc)
    assert after(doc, "结案时间") == "（尚未结案）"
    assert after(doc, "效果评估").strip() == "" and after(doc, "处置结果").strip() == ""


async def test_scraped_text_is_cut_and_cleaned_and_copies_show_the_path(sessions: Sessions) -> None:
    text = "第一段\x0b\x0c有控制字符  和   空格\n\n" + "长" * 800
    ids: list[int] = []
    for i, (source, minutes) in enumerate((("tieba-hualong", 0), ("county-news", 40), ("weibo-mirror", 90))):
        item = Item(url=f"http://site{i}.example.cn/p/{i}", source_id=source, title=f"转载 {i}\x07", text=text,
                    fetched_at=T0 + minutes * M)
        hit = Hit("food-safety", "安全生产", "一般", (TermMatch("化隆二幼", "text", 0, 4),), "摘要\x1f片段")
        async with sessions() as s:
            stored = await queries.store_item(s, item, [hit], now=T0 + minutes * M, channels_for=lambda g: [])
        assert stored is not None
        ids += stored.alert_ids
    async with sessions() as s:
        incident = IncidentRow(primary_alert_id=ids[0], title="转载 0", sketch=[], created_at=T0)
        s.add(incident)
        await s.flush()
        await s.execute(update(AlertRow).where(AlertRow.id.in_(ids)).values(incident_id=incident.id))
        await s.commit()
    file = await case_file(sessions, ids[0])
    assert [c.source_id for c in file.copies] == ["tieba-hualong", "county-news", "weibo-mirror"]

    doc = read(forms.build_report_form(file, source_names={"county-news": "化隆县新闻网"}, generated_at=T0))
    cut = after(doc, "正文节选")
    assert cut.startswith("第一段有控制字符 和 空格\n长") and cut.endswith("长……")
    assert len(cut) == forms.EXCERPT_CHARS + 2
    assert after(doc, "命中摘要") == "摘要片段" and after(doc, "标题") == "转载 0"
    assert after(read(forms.build_report_form(replace(file, text="甲\x00乙"))), "正文节选") == "甲乙"  # NUL: not XML
    path = after(doc, "传播途径").split("\n")
    assert path[:4] == ["系统记录的转载 3 处（按发现时间）：",
                        "1. 2026年9月30日 15:00 tieba-hualong http://site0.example.cn/p/0",
                        "2. 2026年9月30日 15:40 化隆县新闻网 http://site1.example.cn/p/1",
                        "3. 2026年9月30日 16:30 weibo-mirror http://site2.example.cn/p/2"]


def test_assessment_notes_split_into_their_rows() -> None:
    parts, rest = forms.split_assessment(ASSESSMENT)
    assert parts == {"原因": "家长在贴吧发帖质疑食堂卫生", "传播途径": "本地贴吧转发至家长微信群",
                     "特点": "情绪化，转发快", "拟处置意见": "请保教处核实并统一回应"}
    assert rest == ""
    parts, rest = forms.split_assessment("已核实来源。起因: 停电 处置建议：发布说明")
    assert parts == {"原因": "停电", "拟处置意见": "发布说明"} and rest == "已核实来源。"
    assert forms.split_assessment("只有一句话") == ({}, "只有一句话")


def test_form_kinds_and_file_names() -> None:
    assert [forms.form_kind(k) for k in ("处理单", "report", "交办单", "dispatch", "结案报告", "close", " 结案 ")] == [
        "处理单", "处理单", "交办单", "交办单", "结案报告", "结案报告", "结案报告"]
    with pytest.raises(ValueError, match="未知表单"):
        forms.form_kind("通报")
    assert forms.file_name("交办单", 7) == "舆情处置交办单-告警7.docx"


# --- the command line ----------------------------------------------------------------------------

def make_app(db_url: str, config: Path) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = SimpleNamespace(db_url=db_url, config=config)

    app.add_typer(alerts_app, name="alerts")
    return app


def drive(db_url: str) -> int:
    """A dispatched case (not yet replied), for the command-line tests."""

    async def go() -> int:
        engine = db.make_engine(db_url)
        try:
            await db.upgrade(engine)
            sessions = db.sessionmaker(engine)
            async with sessions() as s:
                await add_department(s, name="宣传部", actor="cli:test", now=T0, contacts=["赵部长 0972-7654321"])
                for name, role in (("小李", "operator"), ("王校长", "leader")):
                    await add_user(s, name=name, role=role, department=None, actor="cli:test", now=T0)
            (alert_id,) = await seed_alerts(sessions)
            await act(sessions, alert_id, "小李", Request("assess"), T0 + M)
            await act(sessions, alert_id, "小李", Request("report"), T0 + 2 * M)
            dispatch = Request("dispatch", department="宣传部", due=T0 + timedelta(hours=6), note="统一口径回应")
            await act(sessions, alert_id, "王校长", dispatch, T0 + 3 * M)
            return alert_id
        finally:
            await engine.dispose()

    return asyncio.run(go())


def invoke(app: typer.Typer, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})
    assert result.exit_code == code, result.output
    return result


def test_yuqing_alerts_form(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    alert_id = drive(db_url)
    config = tmp_path / "config"
    config.mkdir()
    (config / "sources.yaml").write_text(
        "sources:\n  - id: county-news\n    name: 化隆县新闻网\n    type: news\n    url: http://news.example.cn/\n",
        encoding="utf-8")
    app = make_app(db_url, config)
    out = tmp_path / "交办单.docx"
    said = invoke(app, "alerts", "form", str(alert_id), "--kind", "交办单", "--out", str(out),
                  "--institution", "化隆县教育局").output
    assert "已生成《舆情处置交办单》" in said and str(out) in said
    doc = read(out.read_bytes())
    assert doc.paragraphs[0].text == "舆情处置交办单"
    assert doc.paragraphs[1].text.startswith("交办单位：化隆县教育局")
    assert after(doc, "承办部门") == "宣传部" and after(doc, "联系人") == "赵部长 0972-7654321"
    assert after(doc, "交办要求") == "统一口径回应"
    assert after(doc, "来源") == "化隆县新闻网（county-news）"
    assert after(doc, "办结时限") == "2026年9月30日 21:00前反馈处置结果"

    monkeypatch.chdir(tmp_path)  # the default file name, in the current directory; the unit from the environment
    invoke(app, "alerts", "form", str(alert_id), env={"YUQING_INSTITUTION": "化隆县第二幼儿园"})
    doc = read((tmp_path / f"舆情信息报告处理单-告警{alert_id}.docx").read_bytes())
    assert doc.paragraphs[1].text.startswith("填报单位：化隆县第二幼儿园")
    assert after(doc, "链接") == "http://news.example.cn/重大/0.html" and after(doc, "等级") == "重大"
    assert "王校长（2026年9月30日 15:03，交办）：统一口径回应" in after(doc, "领导批示")
    invoke(app, "alerts", "form", str(alert_id), "--kind", "结案报告")
    doc = read((tmp_path / f"舆情处置结案报告-告警{alert_id}.docx").read_bytes())
    assert after(doc, "结案时间") == "（尚未结案）" and "交办宣传部" in all_text(doc)

    assert "未知表单" in invoke(app, "alerts", "form", str(alert_id), "--kind", "通报", code=2).output
    assert "告警 999 不存在" in invoke(app, "alerts", "form", "999", code=1).output
    assert "无法写入" in invoke(app, "alerts", "form", str(alert_id), "--out", str(tmp_path / "no" / "x.docx"),
                            code=1).output


def test_evidence_export_holds_the_report_form(db_url: str, tmp_path: Path) -> None:
    from crawler.cli import app

    found = datetime(2026, 11, 30, 5, 7, tzinfo=timezone.utc)
    body = "<html><body><p>家长反映，化隆二幼多名幼儿午餐后呕吐。</p></body></html>".encode()
    data = tmp_path / "data"
    result = FetchResult(url="http://bbs.example.cn/t/1", final_url="http://bbs.example.cn/t/1", status=200,
                         headers=(("Content-Type", "text/html"),), body=body, text=body.decode(),
                         encoding="utf-8", fetched_at=found, elapsed_ms=5, request_headers=(("User-Agent", "yuqing"),))
    item = Item(url="http://bbs.example.cn/t/1", source_id="bbs", title="幼儿呕吐",
                text="家长反映，化隆二幼多名幼儿午餐后呕吐。", fetched_at=found)
    digest = EvidenceStore(data / "evidence").save(result, [item])

    async def seed() -> int:
        engine = db.make_engine(db_url)
        try:
            await db.upgrade(engine)
            hit = Hit("food-safety", "安全生产", "重大", (TermMatch("化隆二幼", "text", 5, 9),),
                      "【化隆二幼】多名幼儿午餐后呕吐")
            async with db.sessionmaker(engine)() as s:
                stored = await queries.store_item(s, item, [hit], now=found, channels_for=lambda g: [],
                                                  body_sha256=digest)
            assert stored is not None
            return stored.alert_ids[0]
        finally:
            await engine.dispose()

    alert_id = asyncio.run(seed())
    target = tmp_path / "e.zip"
    said = invoke(app, "--config", str(tmp_path), "--data", str(data), "--db", db_url,
                  "evidence", "export", str(alert_id), "--out", str(target), "--institution", "化隆县第二幼儿园").output
    assert f"report-form-alert-{alert_id}.docx" in said
    with zipfile.ZipFile(target) as bundle:
        names = set(bundle.namelist())
        assert names == {f"{digest}.warc.gz", "manifest.json", "text.txt", f"report-form-alert-{alert_id}.docx"}
        doc = read(bundle.read(f"report-form-alert-{alert_id}.docx"))
    assert doc.paragraphs[0].text == "舆情信息报告处理单"
    assert doc.paragraphs[1].text.startswith("填报单位：化隆县第二幼儿园")
    assert after(doc, "链接") == "http://bbs.example.cn/t/1" and after(doc, "等级") == "重大"
    assert after(doc, "命中摘要") == "【化隆二幼】多名幼儿午餐后呕吐"
    assert after(doc, "正文节选") == "家长反映，化隆二幼多名幼儿午餐后呕吐。"
    assert {cells[0]: cells[1] for cells in rows(doc) if len(cells) == 3}["报告领导"] == "2026年11月30日 15:07"
