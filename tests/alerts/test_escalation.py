"""Reminders before a deadline, escalation after it, repeated until handled — with a controlled clock,
on SQLite and PostgreSQL, each one in the audit log and delivered through the outbox."""

from __future__ import annotations

from datetime import timedelta

from cases import T0, act, history, seed_alerts, seed_people
from loopback import WebhookReceiver

from alerts import audit
from alerts.deadlines import DeadlineSettings
from alerts.escalation import Escalator
from alerts.notifiers.webhook import WebhookNotifier
from alerts.outbox import Outbox
from alerts.workflow import Request
from storage import workflow as store

SETTINGS = DeadlineSettings(remind_before="30m", escalate_every="2h")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):
        return self.now


async def test_major_case_is_reminded_escalated_repeated_then_quiet_once_handled(sessions) -> None:
    [alert_id] = await seed_alerts(sessions, grade="重大")
    await seed_people(sessions)
    hook = await WebhookReceiver().start()
    clock = Clock()
    try:
        outbox = Outbox(sessions, {"operator": WebhookNotifier(key="operator", url=hook.url),
                                   "leader": WebhookNotifier(key="leader", url=hook.url + "?to=leader")},
                        clock=clock)
        escalator = Escalator(sessions, lambda: SETTINGS, lambda grade: ["operator"], lambda: ["leader"])

        async def tick(after: timedelta) -> list[tuple[str, str, int]]:
            clock.now = T0 + after
            chases = await escalator.tick(clock.now)
            await outbox.drain_once()
            return [(c.action, c.kind, c.round) for c in chases]

        assert await tick(timedelta(minutes=60)) == []
        assert await tick(timedelta(minutes=95)) == [("remind", "report", 1)]  # 2 h deadline, 30 min before
        assert await tick(timedelta(minutes=100)) == []  # one reminder only
        assert await tick(timedelta(minutes=125)) == [("escalate", "report", 1)]
        assert await tick(timedelta(minutes=180)) == []  # not again before escalate_every
        assert await tick(timedelta(minutes=246)) == [("escalate", "report", 2)]
        await act(sessions, alert_id, "小李", Request("assess"), T0 + timedelta(minutes=247))
        await act(sessions, alert_id, "小李", Request("report"), T0 + timedelta(minutes=248))
        assert await tick(timedelta(minutes=400)) == []  # reported: that clock stopped
    finally:
        await hook.stop()
    kinds = [(body["kind"], headers.get("Idempotency-Key")) for headers, body in hook.received]
    assert [k for k, _ in kinds] == ["reminder", "escalation", "escalation"]
    assert len({key for _, key in kinds}) == 3
    assert "超时" in hook.received[1][1]["message"] and f"#{alert_id}" in hook.received[1][1]["message"]
    entries = await history(sessions, alert_id)
    assert [e.action for e in entries] == ["remind", "escalate", "escalate", "assess", "report"]
    assert all(e.actor == "system" for e in entries[:3])
    async with sessions() as s:
        assert (await audit.verify(s)).ok


async def test_ordinary_case_escalates_on_its_dispatch_deadline(sessions) -> None:
    [alert_id] = await seed_alerts(sessions, grade="一般")
    escalator = Escalator(sessions, lambda: SETTINGS, lambda grade: [], lambda: [])
    chases = await escalator.tick(T0 + timedelta(hours=25))
    assert [(c.action, c.kind) for c in chases] == [("escalate", "dispatch")]
    async with sessions() as s:
        assert (await store.load_case(s, alert_id)).state == "new"  # chasing never changes the case
