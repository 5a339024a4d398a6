"""The weekly-summary job on the sample council: where it goes (the leadership channel, or
each of the Leadership Team with a notice to the admins), when (Monday 09:00, a bank holiday
moving it, three-weekly), never twice and none lost across a restart."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from domain import leadership
from domain.dates import LONDON
from domain.model import AuditEntry, ClosureDay, LeadershipChannel, Notification
from domain.outbox import Timetable
from domain.policy import Policy
from domain.reporting import load_calendar
from domain.uow import UnitOfWork
from domain.views import Refused
from domain.weekly import SummarySchedule
from scheduler.jobs import JOBS, JobContext

CHANNEL = "19:leadership@thread.tacv2"
TEAM = "19:cmt@thread.tacv2"
SET_AT = datetime(2026, 11, 2, 10, 0, tzinfo=LONDON)


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON)


def channel_values(conversation_id: str = CHANNEL, name: str = "Leadership") -> dict:
    return {
        "scope": "channel",
        "tenant_id": "tenant-1",
        "team_id": TEAM,
        "service_url": "https://smba.example/",
        "bot_id": "28:perfbot",
        "reference": {
            "conversation": {"id": conversation_id, "conversationType": "channel"},
            "names": {"team": "Corporate Management Team", "channel": name},
        },
    }


async def set_channel(uow: UnitOfWork, conversation_id: str = CHANNEL) -> None:
    async with uow() as tx:
        await leadership.set_channel(
            tx,
            conversation_id,
            channel_values(conversation_id),
            "rachel.singh@kingsmere.gov.uk",
            SET_AT,
        )


async def run(uow: UnitOfWork, now: datetime, timetable: Timetable | None = None, **kw):
    context = JobContext(uow, timetable or Timetable(), Policy(), **kw)
    return await JOBS["weekly-summary"].run(context, now)


async def summaries(uow: UnitOfWork) -> list[Notification]:
    async with uow() as tx:
        return list(
            await tx.scalars(
                select(Notification)
                .where(Notification.kind.in_(["weekly-summary", "no-channel"]))
                .order_by(Notification.reason_key)
            )
        )


async def test_an_ordinary_monday_queues_one_summary_for_the_channel_at_nine(uow):
    await set_channel(uow)
    monday = date(2026, 11, 30)
    assert (await run(uow, at(monday, 8, 59))).queued == []
    result = await run(uow, at(monday))
    assert result.queued == [f"weekly-summary:{CHANNEL}:2026-11-30"]
    [row] = await summaries(uow)
    assert (row.conversation_id, row.person_id, row.payload) == (
        CHANNEL,
        None,
        {"day": "2026-11-30"},
    )
    # Run again that day, and on the Wednesday: nothing more.
    assert (await run(uow, at(monday, 11))).queued == []
    wednesday = await run(uow, at(date(2026, 12, 2)))
    assert wednesday.queued == []
    assert wednesday.skipped == {"this week's summary was queued before": 1}
    assert len(await summaries(uow)) == 1


async def test_a_bank_holiday_monday_moves_it_to_tuesday_and_wednesday_adds_nothing(uow):
    await set_channel(uow)
    holiday = date(2026, 8, 31)
    assert (await run(uow, at(holiday, 9))).skipped == {"no summary is due now": 1}
    tuesday = await run(uow, at(date(2026, 9, 1), 9))
    assert tuesday.queued == [f"weekly-summary:{CHANNEL}:2026-08-31"]
    assert (await run(uow, at(date(2026, 9, 2), 9))).queued == []
    assert len(await summaries(uow)) == 1


async def test_a_council_closure_day_moves_it_like_a_bank_holiday(uow):
    await set_channel(uow)
    async with uow() as tx:
        tx.add(ClosureDay(day=date(2026, 11, 30), description="Staff training day"))
    assert (await run(uow, at(date(2026, 11, 30), 10))).queued == []
    assert len((await run(uow, at(date(2026, 12, 1), 10))).queued) == 1


async def test_a_restart_in_the_middle_of_the_monday_run_sends_it_once_and_loses_nothing(
    council_engine,
):
    from domain import db

    monday = date(2026, 11, 30)
    first = UnitOfWork(db.session_factory(council_engine))
    await set_channel(first)
    assert len((await run(first, at(monday))).queued) == 1  # queued, then the process dies
    # A new process starts at 09:20 and catches up: the row is there, still to send, once.
    again = UnitOfWork(db.session_factory(council_engine))
    assert (await run(again, at(monday, 9, 20))).queued == []
    [row] = await summaries(again)
    assert row.state.value == "pending"


async def test_a_server_down_on_the_monday_sends_it_when_it_starts_later_that_week(uow):
    await set_channel(uow)
    thursday = await run(uow, at(date(2026, 12, 3), 14))
    assert thursday.queued == [f"weekly-summary:{CHANNEL}:2026-11-30"]
    assert (await run(uow, at(date(2026, 12, 7), 9))).queued == [
        f"weekly-summary:{CHANNEL}:2026-12-07"
    ]


async def test_three_weekly_summaries_go_every_third_monday(uow):
    await set_channel(uow)
    every3 = Timetable(summary=SummarySchedule(every_weeks=3, start=date(2026, 11, 9)))
    mondays = [date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30)]
    queued = [bool((await run(uow, at(day), every3)).queued) for day in mondays]
    assert queued == [True, False, False, True]


async def test_with_no_channel_each_of_the_leadership_team_gets_it_and_the_admins_are_told(
    uow, person
):
    result = await run(uow, at(date(2026, 11, 30)))
    helen = await person("helen.ashworth@kingsmere.gov.uk")
    rachel = await person("rachel.singh@kingsmere.gov.uk")
    assert f"weekly-summary:person:{helen.id}:2026-11-30" in result.queued
    assert f"no-channel:person:{rachel.id}:2026-11-30" in result.queued
    rows = await summaries(uow)
    by_kind = {
        kind: [r for r in rows if r.kind == kind] for kind in ("weekly-summary", "no-channel")
    }
    assert len(by_kind["weekly-summary"]) == 3  # Helen Ashworth, David Okafor, Sarah Lindqvist
    assert len(by_kind["no-channel"]) == 2  # Corporate Performance Team, Rachel Singh
    notice = by_kind["no-channel"][0].payload
    assert notice["people"] == ["David Okafor", "Helen Ashworth", "Sarah Lindqvist"]
    assert (await run(uow, at(date(2026, 11, 30), 12))).queued == []


async def test_a_channel_chosen_later_in_the_week_is_given_that_weeks_summary_once(uow):
    # Monday's went to the Leadership Team in person (no channel then); on Wednesday the
    # performance team chooses a channel: it is given this week's summary (as `make run`
    # shows it), once, and the people are not sent it again.
    monday = await run(uow, at(date(2026, 11, 30)))
    people = [key for key in monday.queued if key.startswith("weekly-summary:person:")]
    assert len(people) == 3
    await set_channel(uow)
    # What PerfBot tells whoever chose it: this week's goes with the next daily run.
    wednesday_at_ten = at(date(2026, 12, 2), 10)
    schedule = SummarySchedule()
    async with uow() as tx:
        calendar = await load_calendar(tx)
        day, when = await leadership.next_summary(tx, wednesday_at_ten, schedule, calendar)
    assert (day, when) == (date(2026, 11, 30), at(date(2026, 12, 3)))
    assert leadership.next_words(day, when, schedule, calendar) == (
        "Thursday 3 December 2026 at 09:00: this week's, for the week of Monday 30 November "
        "2026, with the next daily run"
    )
    wednesday = await run(uow, at(date(2026, 12, 2), 10), on_demand=True)
    assert wednesday.queued == [f"weekly-summary:{CHANNEL}:2026-11-30"]
    again = await run(uow, at(date(2026, 12, 2), 11), on_demand=True)
    assert (again.queued, again.skipped) == ([], {"this week's summary was queued before": 1})
    assert len([r for r in await summaries(uow) if r.kind == "weekly-summary"]) == 4
    async with uow() as tx:  # it has had this week's: the next is next Monday's
        day, when = await leadership.next_summary(tx, wednesday_at_ten, schedule, calendar)
    assert (day, when) == (date(2026, 12, 7), at(date(2026, 12, 7)))
    assert leadership.next_words(day, when, schedule, calendar) == "Monday 7 December 2026 at 09:00"


async def test_on_demand_it_queues_this_weeks_summary_on_any_day_but_never_a_second(uow):
    await set_channel(uow)
    wednesday = at(date(2026, 12, 2), 7)
    result = await run(uow, wednesday, on_demand=True)
    assert result.queued == [f"weekly-summary:{CHANNEL}:2026-11-30"]
    assert (await run(uow, wednesday, on_demand=True)).queued == []
    # The next Monday's is its own.
    assert len((await run(uow, at(date(2026, 12, 7), 8), on_demand=True)).queued) == 1


async def test_setting_a_channel_replaces_the_earlier_one_and_is_audited(uow):
    await set_channel(uow)
    await set_channel(uow, "19:other@thread.tacv2")
    async with uow() as tx:
        [row] = (await tx.scalars(select(LeadershipChannel))).all()
        audits = (
            await tx.scalars(
                select(AuditEntry).where(AuditEntry.action == "set leadership channel")
            )
        ).all()
    assert row.conversation_id == "19:other@thread.tacv2"
    assert (row.team_name, row.channel_name) == ("Corporate Management Team", "Leadership")
    assert [a.changes["conversation_id"] for a in audits] == [
        [None, CHANNEL],
        [CHANNEL, "19:other@thread.tacv2"],
    ]


async def test_a_channel_chosen_by_name_must_be_one_perfbot_knows(uow):
    await set_channel(uow)
    async with uow() as tx:
        await leadership.clear_channel(tx, "cli:rachel", SET_AT)
    async with uow() as tx:
        chosen = await leadership.set_channel_named(
            tx, "corporate management team", "Leadership", "cli:rachel", SET_AT
        )
        assert chosen.conversation_id == CHANNEL
    with pytest.raises(Refused, match=r"never installed in a team 'Finance'.*Corporate Management"):
        async with uow() as tx:
            await leadership.set_channel_named(tx, "Finance", "General", "cli:rachel", SET_AT)
    with pytest.raises(Refused, match=r"knows no channel 'Random'.*Leadership \(19:leadership"):
        async with uow() as tx:
            await leadership.set_channel_named(tx, TEAM, "Random", "cli:rachel", SET_AT)


async def test_since_is_when_the_previous_summary_went(uow):
    async with uow() as tx:
        assert await leadership.since(tx) is None
        tx.add(
            Notification(
                reason_key=f"weekly-summary:{CHANNEL}:2026-11-23",
                kind="weekly-summary",
                conversation_id=CHANNEL,
                payload={"day": "2026-11-23"},
                not_before=at(date(2026, 11, 23)),
                state="sent",
                sent_at=at(date(2026, 11, 23), 9, 1),
                created_at=at(date(2026, 11, 23)),
            )
        )
    async with uow() as tx:
        assert await leadership.since(tx, date(2026, 11, 30)) == at(date(2026, 11, 23), 9, 1)
        assert await leadership.since(tx, date(2026, 11, 23)) is None  # its own copies left out
