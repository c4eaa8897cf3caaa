"""The periodic reports — 舆情日报, 周报, 月报, 年度统计 — and the patrol ledger as documents:
which figures each shows, in which sections, tables and charts (alerts.reports.document)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.deadlines import CHINA, DeadlineSettings
from alerts.officialdoc import when
from alerts.reports.document import Chart, Report, Section, TableData, table
from alerts.reports.figures import CaseLine, Figures, load_figures, period_of
from alerts.reports.ledger import LedgerLine, SourceInfo, day_range, load_ledger, summarize
from alerts.reports.roster import load_roster, month_key

TITLES = {"daily": "舆情日报", "weekly": "舆情周报", "monthly": "舆情月报", "annual": "舆情年度统计",
          "ledger": "巡查台账"}
BLANK = "　　　　　　"


@dataclass(frozen=True)
class ReportContext:
    """What every report needs besides the database: who issues it, the sources, the deadlines, the clock."""

    institution: str
    sources: tuple[SourceInfo, ...]
    settings: DeadlineSettings
    now: datetime


def _short(moment: datetime) -> str:
    return f"{moment.astimezone(CHINA):%m-%d %H:%M}"


def _change(now: int, before: int) -> str:
    if before == 0:
        return f"新增 {now} 条" if now else "持平"
    diff = (now - before) / before
    return "持平" if now == before else f"{'增加' if diff > 0 else '减少'} {abs(diff):.0%}"


def _case_rows(lines: Sequence[CaseLine], *, with_link: bool = True) -> TableData:
    columns = ["编号", "发现时间", "等级", "类别", "来源", "标题", "状态", "责任部门"] + (["链接"] if with_link else [])
    rows = [[c.alert_id, _short(c.found_at), c.grade, c.category, c.source_name, c.title, c.state,
             c.department or "—"] + ([c.url] if with_link else []) for c in lines]
    return table("案件清单", columns, rows, widths_cm=[1.1, 1.9, 1.2, 1.8, 1.8, 4.0, 1.3, 1.6] + ([3.0] if with_link else []))


def _top(f: Figures) -> TableData:
    rows = [[i, _short(c.found_at), c.grade, c.category, c.source_name, c.title, c.url, c.state]
            for i, c in enumerate(f.top, 1)]
    return table("重点舆情", ["序号", "发现时间", "等级", "类别", "来源", "标题", "链接", "状态"], rows,
                 widths_cm=[0.9, 1.9, 1.2, 1.8, 1.8, 3.8, 3.4, 1.3])


def _open(lines: Sequence[CaseLine], sheet: str) -> TableData:
    rows = [[c.alert_id, _short(c.found_at), c.grade, c.title, c.state, c.department or "—",
             "、".join(c.overdue) or "—"] for c in lines]
    return table(sheet, ["编号", "发现时间", "等级", "标题", "状态", "责任部门", "超期事项"], rows,
                 widths_cm=[1.1, 1.9, 1.2, 4.8, 1.4, 1.8, 3.0])


def _grade_category(f: Figures) -> TableData:
    categories = list(f.by_category)
    rows = []
    for category in categories:
        counts = [sum(1 for c in f.cases if c.category == category and c.grade == g) for g in ("重大", "一般")]
        rows.append([category, *counts, sum(counts)])
    return table("等级类别", ["类别", "重大", "一般", "合计"], rows,
                 total=["合计", f.by_grade["重大"], f.by_grade["一般"], f.total])


def _counts(sheet: str, label: str, counts: dict[str, int], total: int) -> TableData:
    rows = [[name, n, n / total if total else 0.0] for name, n in counts.items()]
    return table(sheet, [label, "条数", "占比"], rows, total=["合计", total, 1.0 if total else 0.0])


def _timeliness(f: Figures) -> TableData:
    rows = [[t.kind, t.cases, t.on_time, t.late, t.missed, t.not_due, t.rate] for t in f.timeliness]
    return table("处置时效", ["事项", "案件数", "按时完成", "超时完成", "逾期未办", "未到期", "按时率"],
                 [[*r[:-1], r[-1] if r[-1] is not None else "—"] for r in rows],
                 widths_cm=[3.2, 1.6, 1.8, 1.8, 1.8, 1.6, 1.8])


def _informants(f: Figures) -> TableData:
    rows = [[i.informant, i.submitted, i.confirmed, i.confirmed / i.submitted if i.submitted else 0.0]
            for i in f.informants]
    return table("信息员报送", ["信息员", "报送", "确认", "确认率"], rows,
                 total=["合计", sum(i.submitted for i in f.informants), sum(i.confirmed for i in f.informants), None])


def _ledger_table(lines: Sequence[LedgerLine], sheet: str = "巡查台账") -> TableData:
    rows = [[f"{line.day:%m-%d}", line.window, line.source_name, line.status_label, line.fetched, line.failed,
             line.items, line.new_items, line.hits, line.alerts, line.reason or "—", line.on_duty or "（未排班）"]
            for line in lines]
    return table(sheet, ["日期", "时段", "来源", "巡查结果", "抓取", "失败", "条目", "新增", "命中", "告警", "说明", "值班人"],
                 rows, widths_cm=[1.4, 1.9, 2.0, 1.6, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 2.6, 1.4])


def _ledger_by_day(lines: Sequence[LedgerLine]) -> TableData:
    rows = []
    for day in sorted({line.day for line in lines}):
        s = summarize([line for line in lines if line.day == day])
        people = "、".join(dict.fromkeys(line.on_duty for line in lines if line.day == day and line.on_duty))
        rows.append([f"{day:%m-%d}", s.windows, s.patrolled, s.gaps, s.failed, s.new_items, s.hits, s.alerts,
                     people or "（未排班）"])
    s = summarize(lines)
    return table("台账汇总", ["日期", "应巡查", "已巡查", "缺口", "失败", "新增", "命中", "告警", "值班人"], rows,
                 total=["合计", s.windows, s.patrolled, s.gaps, s.failed, s.new_items, s.hits, s.alerts, ""])


def _sources(f: Figures) -> TableData:
    rows = [[s.name, s.windows, s.patrolled, s.gaps, s.failed, s.items, s.new_items, s.hits, s.last_error or "—"]
            for s in f.sources]
    return table("来源运行", ["来源", "应巡查", "已巡查", "缺口", "失败", "条目", "新增", "命中", "最近错误"], rows,
                 widths_cm=[2.4, 1.2, 1.2, 1.0, 1.0, 1.0, 1.0, 1.0, 5.0])


def _overview(f: Figures, what: str) -> str:
    s = f.ledger_summary
    text = (f"{what}共发现舆情 {f.total} 条，其中重大 {f.by_grade['重大']} 条、一般 {f.by_grade['一般']} 条，"
            f"经研判误报 {f.false_positives} 条；与上期（{f.previous_total} 条）相比{_change(f.total, f.previous_total)}。"
            f"截至生成时，未办结案件 {len(f.open_cases)} 件，其中超期 {len(f.overdue_cases)} 件。")
    if s.windows:
        text += f"应巡查时段 {s.windows} 个，已巡查 {s.patrolled} 个，缺口 {s.gaps} 个，巡查失败 {s.failed} 个。"
    return text


def _gap_note(lines: Sequence[LedgerLine]) -> tuple[str, ...]:
    gaps = [line for line in lines if line.gap]
    if not gaps:
        return ("本期所有应巡查时段均有巡查记录。",)
    listed = "；".join(f"{line.day:%m-%d} {line.window} {line.source_name}" for line in gaps[:20])
    more = f" 等 {len(gaps)} 处" if len(gaps) > 20 else ""
    return (f"巡查缺口 {len(gaps)} 处（未巡查，如实列出）：{listed}{more}。",)


def _bars(title: str, counts: dict[str, int]) -> tuple[Chart, ...]:
    # matplotlib + NumPy (~40 MB): loaded when a report is drawn, not resident in the daemon all day
    from alerts.reports import charts

    return (Chart(title, charts.bars(title, counts)),) if counts else ()


def _daily(f: Figures) -> list[Section]:
    return [
        Section("总体情况", (_overview(f, "本日"),), (_grade_category(f),),
                _bars("本日舆情类别分布", dict(f.by_category))),
        Section("重点舆情", ("按等级（重大在前）和发现时间排列，链接可直接打开原文。",), (_top(f),)),
        Section("未办结及超期案件", (f"截至 {when(f.generated_at)}，未办结 {len(f.open_cases)} 件，超期 {len(f.overdue_cases)} 件。",),
                (_open(f.open_cases, "未办结案件"),)),
        Section("巡查情况", (), (_ledger_table(f.ledger),), (), _gap_note(f.ledger)),
    ]


def _weekly(f: Figures) -> list[Section]:
    return [
        Section("总体情况", (_overview(f, "本周"),)),
        Section("分类统计", (), (_counts("分类统计", "类别", dict(f.by_category), f.total),),
                _bars("本周舆情类别分布", dict(f.by_category))),
        Section("来源统计", (), (_counts("来源统计", "来源", dict(f.by_source), f.total),),
                _bars("本周舆情来源分布", dict(f.by_source))),
        Section("处置时效", ("按时率 = 按时完成 ÷（按时完成 + 超时完成 + 逾期未办）；误报不计。",), (_timeliness(f),)),
        Section("信息员报送统计", ("确认：线索经研判上报领导及以后环节。",), (_informants(f),)),
        Section("重点舆情", (), (_top(f),)),
    ]


def _monthly(f: Figures, previous: Figures) -> list[Section]:
    from alerts.reports import charts  # see _bars

    this = [n for _, n in f.per_day]
    last = [n for _, n in previous.per_day]
    trend = Chart("每日舆情走势（本月与上月）", charts.lines(
        "每日舆情走势（本月与上月）", [f"{n}日" for n in range(1, max(len(this), len(last)) + 1)],
        {"本月": this, "上月": last}))
    categories = list(dict.fromkeys([*f.by_category, *f.previous_by_category]))
    compare = table("上月对比", ["类别", "本月", "上月", "增减"],
                    [[c, f.by_category.get(c, 0), f.previous_by_category.get(c, 0),
                      f.by_category.get(c, 0) - f.previous_by_category.get(c, 0)] for c in categories],
                    total=["合计", f.total, f.previous_total, f.total - f.previous_total])
    return [
        Section("总体情况", (_overview(f, "本月"),)),
        Section("本月案件", (), (_case_rows(f.cases),)),
        Section("走势与上月对比", (), (compare,), (trend, *_bars("本月舆情类别分布", dict(f.by_category)))),
        Section("处置时效", (), (_timeliness(f),)),
        Section("来源运行情况", (), (_sources(f),)),
        Section("巡查台账汇总", (), (_ledger_by_day(f.ledger),), (), _gap_note(f.ledger)),
        Section("值班小结", ("（由本月值班人填写：巡查发现、处置情况、存在问题和建议。）", "", "")),
    ]


def _annual(f: Figures) -> list[Section]:
    from alerts.reports import charts  # see _bars

    d = f.departments
    dept = table("各部门处置", ["部门", "交办", "已反馈", "按时反馈", "超期", "已结案", "按时反馈率"],
                 [[x.department, x.dispatched, x.replied, x.replied_on_time, x.overdue, x.closed,
                   x.replied_on_time / x.dispatched if x.dispatched else 0.0] for x in d],
                 total=["合计", sum(x.dispatched for x in d), sum(x.replied for x in d),
                        sum(x.replied_on_time for x in d), sum(x.overdue for x in d), sum(x.closed for x in d), None])
    dept_chart = Chart("各部门处置情况", charts.grouped_bars(
        "各部门处置情况", [x.department for x in d],
        {"交办": [x.dispatched for x in d], "按时反馈": [x.replied_on_time for x in d], "超期": [x.overdue for x in d],
         "已结案": [x.closed for x in d]})) if d else None
    months = [f"{m}月" for m in range(1, 13)]
    per = f.per_month_category
    trend_table = table("分类月度走势", ["类别", *months, "合计"],
                        [[c, *counts, sum(counts)] for c, counts in per.items()],
                        total=["合计", *[sum(v[m] for v in per.values()) for m in range(12)], f.total])
    top = dict(sorted(per.items(), key=lambda kv: -sum(kv[1]))[:6])
    trend = Chart("各类舆情月度走势", charts.lines("各类舆情月度走势", months, top)) if per else None
    return [
        Section("总体情况", (_overview(f, "本年度"),)),
        Section("各部门处置情况", ("供年终考核：交办件数、按时反馈、超期和结案情况。",), (dept,),
                (dept_chart,) if dept_chart else ()),
        Section("分类走势", (), (trend_table,), (trend,) if trend else ()),
        Section("处置时效", (), (_timeliness(f),)),
        Section("来源统计", (), (_counts("来源统计", "来源", dict(f.by_source), f.total),),
                _bars("本年度舆情来源分布", dict(f.by_source))),
    ]


def compose(f: Figures, ctx: ReportContext, previous: Figures | None = None, on_duty: Sequence[str] = ()) -> Report:
    """The document of one periodic report from its figures."""
    kind = f.period.kind
    sections = {"daily": lambda: _daily(f), "weekly": lambda: _weekly(f),
                "monthly": lambda: _monthly(f, previous or f), "annual": lambda: _annual(f)}[kind]()
    signatures: tuple[tuple[str, str], ...] = ()
    if kind in ("daily", "monthly"):
        signatures = (("值班人", "、".join(on_duty) or BLANK), ("签字", BLANK), ("审核人", BLANK))
    return Report(kind, TITLES[kind], ctx.institution, f.period.key, f.period.label, f.generated_at,
                  tuple(sections), signatures)


async def periodic_report(session: AsyncSession, kind: str, day: date, ctx: ReportContext) -> tuple[Report, Figures]:
    """The report of the period of ``kind`` containing ``day``, with the figures it shows."""
    period = period_of(kind, day)
    figures = await load_figures(session, period, ctx.sources, ctx.settings, ctx.now,
                                 with_ledger=kind in ("daily", "monthly"))
    previous = await load_figures(session, period.previous(), ctx.sources, ctx.settings, ctx.now,
                                  with_ledger=False) if kind == "monthly" else None
    month = month_key(period.first_day)
    roster = await load_roster(session, {month})
    return compose(figures, ctx, previous, roster.people(month)), figures


async def ledger_report(session: AsyncSession, first: date, last: date, ctx: ReportContext) -> tuple[Report, list[LedgerLine]]:
    """巡查台账 of the days first … last (Beijing dates)."""
    since, until = day_range(first, last)
    lines = await load_ledger(session, ctx.sources, since, until, ctx.now)
    s = summarize(lines)
    label = f"{first.year}年{first.month}月{first.day}日" + (
        "" if first == last else f"—{last.year}年{last.month}月{last.day}日")
    overview = (f"应巡查时段 {s.windows} 个（{len(ctx.sources)} 个来源），已巡查 {s.patrolled} 个，缺口 {s.gaps} 个，"
                f"巡查失败 {s.failed} 个；抓取条目 {s.items} 条，新增 {s.new_items} 条，命中 {s.hits} 条，告警 {s.alerts} 条。")
    sections = [Section("巡查概况", (overview,), (_ledger_by_day(lines),) if first != last else ()),
                Section("巡查记录", ("每个规定时段、每个来源一行；缺口如实列出，不予隐去。",), (_ledger_table(lines),),
                        (), _gap_note(lines))]
    people = list(dict.fromkeys(line.on_duty for line in lines if line.on_duty))
    number = first.isoformat() if first == last else f"{first.isoformat()}至{last.isoformat()}"
    report = Report("ledger", TITLES["ledger"], ctx.institution, number, label, ctx.now, tuple(sections),
                    (("值班人", "、".join(people) or BLANK), ("签字", BLANK), ("审核人", BLANK),
                     ("日期", "　　　　年　　月　　日")))
    return report, lines

