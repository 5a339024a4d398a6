"""Overdue escalations (issue 12): an escalation owner with several late returns gets one
card a working day listing them all, not one per measure, with each owner's name, the due
date in words, how late it is and the reminders already sent; Chase for me reaches the
owner naming the escalation owner; Acknowledge is recorded; someone else pressing is
refused; and an escalation owner PerfBot cannot reach is never a silent failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.app import ADAPTER, SESSIONS
from bot.delivery.dispatcher import Dispatcher
from bot.loopback import card_text, elements
from bot.settings import Settings
from domain.model import AuditEntry, Escalation, Measure, Notification, NotificationState, Person
from domain.outbox import CHASER_KINDS, REMINDER_KINDS, Timetable, sweep
from tests.bot.conftest import AMINA, GARETH, LUCY, MARK, Teams, User

# RB-01 to RB-04's October (2026/27 M7) returns were due on Friday 20 November; five working
# days later, on Friday 27 November, they are overdue past the escalation point.
FRIDAY = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # GMT: 09:00 in London too
MORNINGS = [datetime(2026, 11, d, 9, 0, tzinfo=UTC) for d in (13, 16, 17, 18, 19, 20, 23, 24, 25, 26, 27)]  # fmt: skip
HEADING = "returns overdue past the escalation point"
DAVID = User("29:david", "David Okafor", "david.okafor@kingsmere.gov.uk", "aad-david")
RACHEL = User("29:rachel", "Rachel Singh", "rachel.singh@kingsmere.gov.uk", "aad-rachel")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def morning(teams: Teams, now: datetime) -> None:
    """The 09:00 sweeps, then the dispatcher sends what they queued."""
    for kinds in (REMINDER_KINDS, CHASER_KINDS):
        async with teams.client.app[SESSIONS]() as session, session.begin():
            await sweep(session, now, Timetable(), set(kinds))
    await send(teams, now + timedelta(minutes=1))


async def send(teams: Teams, now: datetime) -> None:
    app = teams.client.app
    await Dispatcher(Settings(), app[SESSIONS], app[ADAPTER], Clock(now)).run_once()


def to(teams: Teams, user: User) -> list:
    return [c for c in teams.connector.sent() if c.conversation_id == f"a:personal-{user.teams_id}"]


def digests_to(teams: Teams, user: User) -> list[dict[str, Any]]:
    return [c for c in teams.connector.cards(to(teams, user)) if HEADING in card_text(c)]


def button(card: dict[str, Any], title: str, code: str | None = None) -> dict[str, Any]:
    for node in elements(card):
        if node.get("type") == "Action.Submit" and node.get("title") == title:  # noqa: SIM102
            if code is None or node["data"].get("code") == code:
                return node["data"]
    raise AssertionError(f"no {title} button for {code}")


def replaced(teams: Teams) -> str:
    [update] = teams.connector.updates()
    return card_text(teams.connector.cards([update])[0])


async def count(teams: Teams, model: Any, *where: Any) -> int:
    async with teams.client.app[SESSIONS]() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def a_fortnight_late(teams: Teams, *users: User) -> None:
    """Install the people, and run every working morning up to Friday 27 November."""
    for user in users:
        await teams.install(user)
    for now in MORNINGS:
        await morning(teams, now)
    teams.now = FRIDAY + timedelta(hours=1)


async def test_one_card_lists_every_late_return_and_its_buttons_work(teams):
    await a_fortnight_late(teams, MARK, AMINA, GARETH, LUCY)
    [card] = digests_to(teams, MARK)  # one card on Friday, not one per measure
    text = card_text(card)
    assert "4 returns overdue past the escalation point" in text
    for code, owner in (("RB-01", "Amina"), ("RB-02", "Amina"), ("RB-03", "Gareth"), ("RB-04", "Gareth")):  # fmt: skip
        assert f"{code} " in text
        assert f"{owner} " in text
    assert "Business rates (NNDR) collected in year · 2026/27 M7" in text
    assert "Friday 20 November 2026" in text
    assert "5 working days" in text
    assert "3: Fri 13 Nov, Thu 19 Nov, Fri 20 Nov" in text  # the reminders sent
    assert "2: Mon 23 Nov, Wed 25 Nov" in text  # the chasers sent
    assert "not yet" in text  # acknowledged
    assert not [c for c in teams.connector.cards(to(teams, AMINA)) if HEADING in card_text(c)]

    # Chase for me: Amina (and not Gareth) gets a firmer chaser naming Mark, with the card.
    teams.connector.clear()
    assert await teams.submit(MARK, "digest-1", button(card, "Chase for me", "RB-02")) == 201
    after = replaced(teams)
    assert (
        "Chased RB-02 for 2026/27 M7: a firmer chaser naming you is queued for Amina Hussain"
        in after
    )
    assert "Chased today at 10:00, asked by Mark Taylor." in after
    await send(teams, teams.now + timedelta(minutes=1))
    [chaser] = [c for c in to(teams, AMINA) if "has asked me" in (c.body.get("text") or "")]
    assert chaser.body["text"] == (
        "Mark Taylor has asked me to chase RB-02 for 2026/27 M7, due on Friday 20 November: "
        "please send it today, or choose Not available yet and say why it is not available."
    )
    assert "Actual for 2026/27 M7" in card_text(teams.connector.cards([chaser])[0])
    assert not [c for c in to(teams, GARETH) if "has asked me" in (c.body.get("text") or "")]

    # A second press changes nothing and says so.
    teams.connector.clear()
    await teams.submit(MARK, "digest-1", button(card, "Chase for me", "RB-02"))
    assert (
        "RB-02 for 2026/27 M7 was already chased today at 10:00 (asked by Mark Taylor)"
        in replaced(teams)
    )
    asked = Notification.reason_key.like("chaser:RB-02:2026/27 M7:asked:%")
    assert await count(teams, Notification, asked) == 1

    # RB-01 has a delegate: both hear.
    teams.connector.clear()
    await teams.submit(MARK, "digest-1", button(card, "Chase for me", "RB-01"))
    assert "queued for Amina Hussain and Lucy Price" in replaced(teams)

    # Someone else pressing: refused politely, nothing changes, the attempt is audited.
    teams.connector.clear()
    await teams.submit(AMINA, "digest-1", button(card, "Chase for me", "RB-03"))
    assert teams.connector.updates() == []
    assert any(
        "Only Mark Taylor (the escalation owner for RB-03) or the performance team" in t
        for t in teams.connector.texts()
    )
    assert await count(teams, Notification, Notification.reason_key.like("chaser:RB-03:%:asked:%")) == 0  # fmt: skip
    assert await count(teams, AuditEntry, AuditEntry.action == "refused chase") == 1
    await teams.submit(AMINA, "digest-1", button(card, "Acknowledge", "RB-03"))
    assert await count(teams, AuditEntry, AuditEntry.action == "refused acknowledge") == 1
    assert await count(teams, Escalation, Escalation.acknowledged_at.is_not(None)) == 0

    # Acknowledge one, then press it again.
    teams.connector.clear()
    await teams.submit(MARK, "digest-1", button(card, "Acknowledge", "RB-03"))
    after = replaced(teams)
    assert "Acknowledged RB-03 for 2026/27 M7 at 10:00." in after
    assert "by Mark Taylor, 10:00 Friday 27 November 2026" in after
    teams.connector.clear()
    await teams.submit(MARK, "digest-1", button(card, "Acknowledge", "RB-03"))
    assert (
        "RB-03 for 2026/27 M7 was already acknowledged by Mark Taylor at 10:00 on Friday 27 "
        "November 2026." in replaced(teams)
    )

    # A return that arrives meanwhile: nothing to chase, and it leaves the card.
    await teams.submit(
        GARETH,
        "card-rb04",
        await teams.sealed(  # the card of one of Gareth's chasers
            {"verb": "submit_return", "code": "RB-04", "period": "2026/27 M7", "actual": "6.8",
             "commentary": "On profile; late, sorry.", "action": "", "action_due": ""}
        ),
    )  # fmt: skip
    teams.connector.clear()
    await teams.submit(MARK, "digest-1", button(card, "Chase for me", "RB-04"))
    after = replaced(teams)
    assert "RB-04 for 2026/27 M7: it has arrived since, so there is nothing to chase." in after
    assert "3 returns overdue past the escalation point" in after

    # Acknowledge all: every one still listed on the card, each once.
    teams.connector.clear()
    await teams.submit(MARK, "digest-1", button(card, "Acknowledge all"))
    after = replaced(teams)
    assert "Acknowledged RB-01 for 2026/27 M7 and RB-02 for 2026/27 M7 at 10:00." in after
    assert "RB-04 for 2026/27 M7 has arrived since: nothing to acknowledge." in after
    assert "RB-03 for 2026/27 M7 was already acknowledged" in after
    assert await count(teams, Escalation, Escalation.acknowledged_at.is_not(None)) == 3
    assert await count(teams, AuditEntry, AuditEntry.action == "acknowledge") == 3


async def test_the_next_days_card_lists_what_is_still_overdue_and_stops_when_acknowledged(teams):
    await a_fortnight_late(teams, MARK, AMINA, GARETH)
    assert len(digests_to(teams, MARK)) == 1  # Friday's
    monday = FRIDAY + timedelta(days=3)
    teams.connector.clear()
    await morning(teams, monday)
    [again] = digests_to(teams, MARK)  # Monday's, still one card
    assert "4 returns overdue past the escalation point" in card_text(again)
    assert "6 working days" in card_text(again)
    await teams.submit(MARK, "digest-2", button(again, "Acknowledge all"))
    teams.connector.clear()
    await morning(teams, monday + timedelta(days=1))
    assert digests_to(teams, MARK) == []  # all acknowledged: no card on Tuesday


async def test_an_unreachable_escalation_owner_is_never_a_silent_failure(teams):
    teams.connector.add_member(DAVID.teams_id, DAVID.name, DAVID.email, DAVID.aad)
    teams.connector.add_member(RACHEL.teams_id, RACHEL.name, RACHEL.email, RACHEL.aad)
    # Mark has never installed PerfBot; David Okafor is the sample's leadership contact for
    # Revenues and Benefits (sample/council/services.csv), Rachel Singh is performance team.
    await a_fortnight_late(teams, AMINA, GARETH, DAVID, RACHEL)
    async with teams.client.app[SESSIONS]() as session:
        mark = await session.scalar(select(Person).where(Person.email == MARK.email))
        [mine] = (
            await session.scalars(
                select(Notification).where(
                    Notification.person_id == mark.id, Notification.kind == "overdue"
                )
            )
        ).all()
    assert mine.state is NotificationState.FAILED  # kept, and reported; it goes when he installs

    for user in (RACHEL, DAVID):
        # One card for Mark's returns (the performance team also has one for each other
        # escalation owner PerfBot cannot reach; David only for the services he leads).
        [copy] = [c for c in digests_to(teams, user) if "For Mark Taylor" in card_text(c)]
        text = card_text(copy)
        assert "For Mark Taylor: 4 returns overdue past the escalation point" in text
        assert "PerfBot cannot reach Mark Taylor (" in text
        assert "RB-02 Business rates (NNDR) collected in year · 2026/27 M7" in text

    # The leadership contact may act on the card they were given: the chaser says for whom.
    [copy] = [c for c in digests_to(teams, DAVID) if "For Mark Taylor" in card_text(c)]
    teams.connector.clear()
    await teams.submit(DAVID, "copy-1", button(copy, "Chase for me", "RB-02"))
    assert "Chased RB-02 for 2026/27 M7" in replaced(teams)
    await send(teams, teams.now + timedelta(minutes=1))
    [chaser] = [c for c in to(teams, AMINA) if "has asked me" in (c.body.get("text") or "")]
    assert chaser.body["text"].startswith(
        "David Okafor (for Mark Taylor, the escalation owner) has asked me to chase RB-02 for 2026/27 M7"
    )


async def test_a_digest_whose_returns_all_arrived_before_it_went_is_not_sent(teams):
    await a_fortnight_late(teams, AMINA)  # Mark not installed yet: his digest waits
    async with teams.client.app[SESSIONS]() as session, session.begin():
        for code in ("RB-01", "RB-02", "RB-03", "RB-04"):
            measure = await session.scalar(select(Measure).where(Measure.code == code))
            for escalation in await session.scalars(
                select(Escalation).where(Escalation.measure_id == measure.id)
            ):
                await session.delete(escalation)  # as if never escalated: nothing is overdue
        mark = await session.scalar(select(Person).where(Person.email == MARK.email))
        session.add(
            Notification(
                reason_key=f"overdue:{mark.id}:2026-11-30", kind="overdue", person_id=mark.id,
                payload={"for_id": mark.id, "day": "2026-11-30", "returns": ["RB-01 2026/27 M7"]},
                not_before=FRIDAY, state="pending", created_at=FRIDAY,
            )
        )  # fmt: skip
    await teams.install(MARK)
    teams.connector.clear()
    await send(teams, FRIDAY + timedelta(hours=2))
    assert digests_to(teams, MARK) == []
    async with teams.client.app[SESSIONS]() as session:
        row = await session.scalar(
            select(Notification).where(Notification.reason_key == f"overdue:{mark.id}:2026-11-30")
        )
    assert (row.state, row.last_error) == (
        NotificationState.CANCELLED,
        "nothing is overdue past the escalation point any more",
    )


async def test_the_escalation_owner_gets_the_card_when_they_install_perfbot(teams):
    await a_fortnight_late(teams, AMINA)  # Mark has not installed PerfBot
    monday = FRIDAY + timedelta(days=3)
    await morning(teams, monday)  # Friday's and Monday's cards for him wait, as failed
    teams.now = monday + timedelta(hours=2)
    teams.connector.clear()
    await teams.install(MARK)
    await send(teams, teams.now + timedelta(minutes=1))
    [card] = digests_to(teams, MARK)  # the newest only, drawn now: not a burst of old ones
    assert "4 returns overdue past the escalation point" in card_text(card)
    assert "6 working days" in card_text(card)
    assert "For Mark Taylor" not in card_text(card)
