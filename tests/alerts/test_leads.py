"""Informant leads enter the workflow; screenshots are kept by hash; weekly statistics count them."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cases import T0, act, seed_people

from alerts.leads import LeadError, Screenshot, submit_lead
from alerts.workflow import Request
from storage import queries
from storage import workflow as store

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_lead_becomes_a_case_and_counts_when_confirmed(sessions, tmp_path: Path) -> None:
    await seed_people(sessions)
    async with sessions() as s:
        alert_id = await submit_lead(
            s, informant="信息员陈", text="家长群里说化隆二幼乱收费，每人每月200元兴趣班费", now=T0,
            screenshots_dir=tmp_path, channels_for=lambda grade: ["mail"],
            screenshots=[Screenshot("微信群.png", PNG)])
    async with sessions() as s:
        case = await store.load_case(s, alert_id)
        assert (case.state, case.source_id, case.rule_id, case.grade) == ("new", "informant", "informant-lead", "一般")
        assert await queries.delivery_counts(s) == {"pending": 1}
    digest = hashlib.sha256(PNG).hexdigest()
    assert (tmp_path / f"{digest}.png").read_bytes() == PNG
    async with sessions() as s:
        await submit_lead(s, informant="信息员陈", text="第二条：有人在群里转发谣言", now=T0 + timedelta(hours=1),
                          screenshots_dir=tmp_path, channels_for=lambda grade: [])
    await act(sessions, alert_id, "小李", Request("assess"), T0 + timedelta(hours=2))
    await act(sessions, alert_id, "小李", Request("report"), T0 + timedelta(hours=3))
    async with sessions() as s:
        stats = await queries.informant_stats(s, "informant", T0 - timedelta(days=1), T0 + timedelta(days=6))
    assert [(r.informant, r.submitted, r.confirmed) for r in stats] == [("信息员陈", 2, 1)]


async def test_refusals(sessions, tmp_path: Path) -> None:
    await seed_people(sessions)
    async with sessions() as s:
        with pytest.raises(LeadError, match="角色"):
            await submit_lead(s, informant="王校长", text="x", now=T0, screenshots_dir=tmp_path,
                              channels_for=lambda grade: [])
        with pytest.raises(LeadError, match="截图只接受"):
            await submit_lead(s, informant="信息员陈", text="x", now=T0, screenshots_dir=tmp_path,
                              channels_for=lambda grade: [], screenshots=[Screenshot("a.exe", b"MZ")])


def test_cli_add_and_weekly_stats(tmp_path: Path) -> None:
    config = tmp_path / "config"
    (config / "keywords").mkdir(parents=True)
    (config / "sources.yaml").write_text("sources: []\n", encoding="utf-8")
    (config / "keywords" / "k.yaml").write_text("group: 本单位\nterms: [化隆二幼]\n", encoding="utf-8")
    shot = tmp_path / "截图.png"
    shot.write_bytes(PNG)

    def yuqing(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "crawler.cli", "--config", str(config), "--data",
                               str(tmp_path / "data"), *args], capture_output=True, text=True, timeout=60)

    assert yuqing("users", "add", "信息员陈", "--role", "informant").returncode == 0
    added = yuqing("leads", "add", "--as", "信息员陈", "--text", "微信群：化隆二幼乱收费", "--screenshot", str(shot))
    assert added.returncode == 0 and "告警编号" in added.stdout, added.stdout + added.stderr
    assert yuqing("leads", "add", "--as", "nobody", "--text", "x").returncode == 1
    stats = json.loads(yuqing("leads", "stats", "--json").stdout)
    assert stats["informants"] == [{"informant": "信息员陈", "submitted": 1, "confirmed": 0}]
    assert len(list((tmp_path / "data" / "leads").glob("*.png"))) == 1
