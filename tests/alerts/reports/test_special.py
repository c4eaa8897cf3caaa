"""舆情专报 of one incident: the copies across sites as the propagation path, the operator's 研判,
the handling steps from the audit log, the effect after closing — in both formats, against SQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_world import NAMES, NOW, World, docx_images, docx_table, docx_tables, docx_text, xlsx_sheet

from alerts.reports.output import encode
from alerts.reports.special import special_report
from storage.workflow import NotFound

SAMPLES = Path(__file__).resolve().parents[3] / "test-output" / "reports"


async def test_special_report(world: World, request: pytest.FixtureRequest) -> None:
    async with world.sessions() as s:
        report, _ = await special_report(s, world.incident_id, institution="化隆县第二幼儿园", names=NAMES, now=NOW)
    docx, xlsx = encode(report, "docx"), encode(report, "xlsx")
    if "sqlite" in request.node.name:
        SAMPLES.mkdir(parents=True, exist_ok=True)
        (SAMPLES / report.file_name("docx")).write_bytes(docx)
        (SAMPLES / report.file_name("xlsx")).write_bytes(xlsx)

    copies = await world.sql(
        """SELECT i.url FROM alerts a JOIN hits h ON h.id = a.hit_id JOIN items i ON i.id = h.item_id
           WHERE a.incident_id = :i ORDER BY a.created_at, a.id""", i=world.incident_id)
    assert len(copies) == 3
    path = docx_table(docx, "序号", "发现时间", "发布时间", "来源", "标题", "链接")
    assert [row[5] for row in path] == [url for (url,) in copies]
    assert [row[5] for row in xlsx_sheet(xlsx, "传播路径")[1:]] == [url for (url,) in copies]
    assert [row[3] for row in path] == ["化隆新闻网", "化隆新闻 RSS", "化隆新闻网"]

    judged = {row[0]: row[1] for table in docx_tables(docx) if table[0] == ["项目", "内容"] for row in table[1:]}
    assert judged["原因"] == "午餐后多名幼儿呕吐" and judged["特点"] == "关注度高，情绪化"
    assert "2 个来源、3 处" in judged["系统观察"]

    steps = await world.sql("SELECT count(*) FROM audit_log WHERE alert_id = :a", a=world.alerts["food"])
    handling = docx_table(docx, "序号", "时间", "操作人", "操作", "说明")
    assert len(handling) == steps[0][0] == 5
    assert [row[2] for row in handling] == ["小李", "小李", "王校长", "保教处张", "小李"]
    text = docx_text(docx)
    assert "已约谈食堂负责人" in text and "检测结果正常" in text
    assert "结案后新增转载 1 处" in text  # the copy found the morning after the case was closed
    assert len(docx_images(docx)) == 2


async def test_unknown_incident(world: World) -> None:
    async with world.sessions() as s:
        with pytest.raises(NotFound, match="事件 999"):
            await special_report(s, 999, institution="x", names={}, now=NOW)
