"""Cover in Teams (issue 18): an owner typing `away until DATE` hands their reminders and
chasers to their delegates (or the person named, or their manager), who are told, get the
chasers saying whom they cover, and can send the returns; the owner is not chased; `back`
ends it. `delegate all` and `undelegate` change delegates, and the person is told. The help
card's examples carry the person's own measure codes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.app import SESSIONS
from bot.loopback import card_text
from domain.model import Absence, AuditEntry, Delegate, Measure, Notification, Person, Return
from domain.outbox import CHASER_KINDS, Timetable, sweep
from tests.bot.conftest import AMINA, GARETH, HELEN, LUCY, MARK, NOW, Teams, User
from tests.bot.test_conversation import data, values


async def count(teams: Teams, model, *where) -> int:
    async with teams.client.app[SESSIONS]() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def chasers(teams: Teams) -> None:
    """The morning's chaser sweep (Monday 23 November: October's returns, due on Friday 20,
    are owed their first chaser), then the dispatcher sends what it queued."""
    async with teams.client.app[SESSIONS]() as session, session.begin():
        await sweep(session, teams.now, Timetable(), set(CHASER_KINDS))
    await teams.dispatch()


def said(teams: Teams, user: User) -> list[str]:
    """The notices and messages someone was sent: each card's text, or the message's."""
    out = []
    for call in teams.sent_to(user):
        cards = teams.connector.cards([call])
        out.append(card_text(cards[0]) if cards else call.body.get("text", ""))
    return out


def about(calls, code: str) -> list:
    return [c for c in calls if f"{code} " in (c.body.get("text") or "")]


async def test_an_owner_away_hands_over_and_the_covers_are_told_chased_and_can_send(teams):
    for user in (AMINA, LUCY, MARK):
        await teams.install(user)
    teams.connector.clear()
    assert await teams.say(AMINA, "away until 2026-12-11") == 201
    [reply] = teams.connector.texts()
    assert reply == (
        "OK: you are away until Friday 11 December 2026. Until then your reminders and chasers "
        "go to Lucy Price (RB-01) and Mark Taylor (RB-02 and RB-06), who can send those "
        "returns; you won't be chased. From Friday 11 December they come to you again. I've "
        "sent Lucy Price and Mark Taylor a message to say so. Type back if you return sooner."
    )
    teams.connector.clear()
    await teams.dispatch()
    [to_lucy] = said(teams, LUCY)
    assert "You are covering for Amina Hussain until Friday 11 December" in to_lucy
    assert "the reminders and chasers for RB-01 come to you instead" in to_lucy
    assert "You are a delegate for RB-01 already" in to_lucy
    [to_mark] = said(teams, MARK)
    assert "the reminders and chasers for RB-02 and RB-06 come to you instead" in to_mark
    assert "From Friday 11 December 2026 they go to Amina Hussain again." in to_mark

    # The morning's chasers: to the covers, each saying so; none to Amina.
    teams.connector.clear()
    await chasers(teams)
    assert teams.sent_to(AMINA) == []
    [lucy_call] = about(teams.sent_to(LUCY), "RB-01")
    # Her own delegate's chaser (RB-03, Gareth's) is as ever, saying nothing of cover.
    [rb03] = about(teams.sent_to(LUCY), "RB-03")
    assert "covering" not in rb03.body["text"]
    covering = "Amina Hussain is away until Friday 11 December; you are covering RB-01."
    assert lucy_call.body["text"].startswith(covering)
    assert covering in card_text(teams.connector.cards([lucy_call])[0])
    [mark_call] = about(teams.sent_to(MARK), "RB-02")
    assert mark_call.body["text"].startswith(
        "Amina Hussain is away until Friday 11 December; you are covering RB-02."
    )
    amina = select(Person.id).where(Person.email == AMINA.email).scalar_subquery()
    assert await count(teams, Notification, Notification.person_id == amina) == 0

    # Mark, who is no delegate, sends RB-02's return while he covers.
    teams.connector.clear()
    assert await teams.say(MARK, "submit RB-02") == 201
    [card] = teams.connector.cards()
    typed = values(actual="66.9", commentary="On profile; collected while Amina is away.")
    assert await teams.submit(MARK, "card-RB-02", {**data(card), **typed}) == 201
    [update] = teams.connector.updates()
    assert "Received: RB-02" in card_text(teams.connector.cards([update])[0])
    async with teams.client.app[SESSIONS]() as session:
        stored = await session.scalar(
            select(Return)
            .join(Measure)
            .where(Measure.code == "RB-02", Return.period == "2026/27 M7")
        )
        mark = await session.scalar(select(Person).where(Person.email == MARK.email))
    assert stored.submitted_by_id == mark.id

    # Where they would look: my measures, both sides.
    teams.connector.clear()
    assert await teams.say(MARK, "my measures") == 201
    text = card_text(teams.connector.cards()[0])
    assert (
        "You are covering RB-02 and RB-06 for Amina Hussain, away until Friday 11 December 2026."
        in text
    )
    assert "RB-06 · Council Tax Support claims decided within 14 days" in text
    teams.connector.clear()
    assert await teams.say(AMINA, "my measures") == 201
    assert (
        "You are away until Friday 11 December 2026. Covering for you: Lucy Price (RB-01) and "
        "Mark Taylor (RB-02 and RB-06). Type back if you return sooner."
    ) in card_text(teams.connector.cards()[0])

    # Back early: the covers are told, and Mark can no longer send RB-06.
    teams.connector.clear()
    assert await teams.say(AMINA, "I'm back") == 201
    assert teams.connector.texts() == [
        "Welcome back: your reminders and chasers come to you again from now. I've told Lucy "
        "Price and Mark Taylor that their cover has ended."
    ]
    assert await count(teams, Absence) == 0
    teams.connector.clear()
    await teams.dispatch()
    [ended] = said(teams, LUCY)
    assert (
        "Amina Hussain is back, so the reminders and chasers for RB-01 go to them again." in ended
    )
    assert "You are still a delegate for RB-01" in ended
    assert "Amina Hussain is back" in said(teams, MARK)[0]
    teams.connector.clear()
    assert await teams.say(MARK, "submit RB-06") == 201
    assert "RB-06 belongs to Amina Hussain" in teams.connector.texts()[0]
    teams.connector.clear()
    assert await teams.say(AMINA, "back") == 201
    assert teams.connector.texts()[0].startswith("You are not marked away, so there is nothing")


async def test_the_person_named_covers_everything_and_is_told_even_before_installing(teams):
    await teams.install(AMINA)
    teams.connector.clear()
    assert (
        await teams.say(AMINA, "away until 11/12/2026 delegate Gareth.Jones@kingsmere.gov.uk")
        == 201
    )
    [reply] = teams.connector.texts()
    assert "go to Gareth Jones (RB-01, RB-02 and RB-06) and Lucy Price (RB-01)" in reply
    assert (
        "Gareth Jones and Lucy Price have not got PerfBot in Teams yet: the message waits "
        "until they have it." in reply
    )
    await teams.install(GARETH)  # what waited for him goes as soon as he installs
    await teams.dispatch()
    assert any("You are covering for Amina Hussain" in t for t in said(teams, GARETH))
    # The same again changes nothing and tells nobody twice.
    teams.connector.clear()
    assert (
        await teams.say(AMINA, "away until 2026-12-11 delegate gareth.jones@kingsmere.gov.uk")
        == 201
    )
    assert "That was already set, so nobody was told again." in teams.connector.texts()[0]
    assert await count(teams, Notification, Notification.kind == "cover") == 2
    # Choosing Mark instead: Gareth is told his cover has ended, Mark that his begins.
    teams.connector.clear()
    assert (
        await teams.say(AMINA, "away until 2026-12-11 delegate mark.taylor@kingsmere.gov.uk") == 201
    )
    reply = teams.connector.texts()[0]
    assert "I've sent Mark Taylor a message to say so." in reply
    assert "I've told Gareth Jones that they no longer cover for you." in reply
    teams.connector.clear()
    await teams.dispatch()
    assert any("Your cover for Amina Hussain has ended" in t for t in said(teams, GARETH))
    assert await count(teams, Absence) == 1


async def test_days_that_cannot_be_cover_are_refused_saying_what_to_type(teams):
    for typed in (
        "away until 2026-11-20",
        "away until 2026-11-23",
        "away until 2028-01-01",
        "away until Friday",
        "away until 2026-12-11 delegate nobody@kingsmere.gov.uk",
        "away until 2026-12-11 delegate amina.hussain@kingsmere.gov.uk",
    ):
        assert await teams.say(AMINA, typed) == 201
    past, today, far, word, unknown, herself = teams.connector.texts()
    assert past == (
        "Friday 20 November 2026 is not in the future: type the day you are back, as in away "
        "until 2026-12-07. Type back when you return early."
    )
    assert today.startswith("Monday 23 November 2026 is not in the future")
    assert far.startswith(
        "Saturday 1 January 2028 is more than a year away: PerfBot takes cover for up to a year."
    )
    assert word == (
        "'Friday' is not a date: write it as 2025-07-18 or 18/07/2025. Type the day you are "
        "back, as in away until 2026-12-07."
    )
    assert unknown.startswith("nobody@kingsmere.gov.uk is not someone PerfBot knows.")
    assert herself.startswith("You can't cover for yourself")
    assert await count(teams, Absence) == 0
    assert await count(teams, Notification) == 0


async def test_delegate_all_and_undelegate_and_each_person_is_told(teams):
    for user in (AMINA, LUCY, GARETH):
        await teams.install(user)
    teams.connector.clear()
    assert await teams.say(AMINA, "delegate all to gareth.jones@kingsmere.gov.uk") == 201
    assert teams.connector.texts() == [
        "Gareth Jones is now a delegate for RB-01, RB-02 and RB-06: they can send those returns "
        "and get their reminders too. You stay accountable as owner. I've sent Gareth Jones a "
        "message to say so."
    ]
    gareth = select(Person.id).where(Person.email == GARETH.email).scalar_subquery()
    hers = select(Measure.id).where(Measure.code.in_(["RB-01", "RB-02", "RB-06"]))
    assert (
        await count(teams, Delegate, Delegate.person_id == gareth, Delegate.measure_id.in_(hers))
        == 3
    )
    teams.connector.clear()
    await teams.dispatch()
    [told] = said(teams, GARETH)
    assert "You can now send 3 measures' returns" in told
    assert "Amina Hussain has made you a delegate for RB-01, RB-02 and RB-06" in told

    teams.connector.clear()
    assert await teams.say(AMINA, "delegate all to gareth.jones@kingsmere.gov.uk") == 201
    assert teams.connector.texts() == [
        "Gareth Jones is already a delegate for all your measures (RB-01, RB-02 and RB-06). "
        "Nothing was changed."
    ]
    teams.connector.clear()
    assert await teams.say(AMINA, "undelegate RB-01 from lucy.price@kingsmere.gov.uk") == 201
    assert await teams.say(AMINA, "undelegate rb-01 from lucy.price@kingsmere.gov.uk") == 201
    assert await teams.say(LUCY, "undelegate RB-01 from gareth.jones@kingsmere.gov.uk") == 201
    removed, again, refused = teams.connector.texts()
    assert removed == (
        "Lucy Price is no longer a delegate for RB-01: its reminders no longer go to them and "
        "they can no longer send its returns. I've sent Lucy Price a message to say so."
    )
    assert again == (
        "Lucy Price is not a delegate for RB-01 (its delegates are Gareth Jones), so nothing "
        "was changed."
    )
    assert "Only the owner of RB-01 (Amina Hussain) or the performance team" in refused
    assert await count(teams, AuditEntry, AuditEntry.action == "remove delegate") == 1
    teams.connector.clear()
    await teams.dispatch()
    [gone] = said(teams, LUCY)
    assert "You no longer send RB-01's returns" in gone
    teams.connector.clear()
    assert await teams.say(LUCY, "submit RB-01") == 201
    assert "RB-01 belongs to Amina Hussain" in teams.connector.texts()[0]


async def test_the_help_card_shows_the_persons_own_codes(teams):
    assert await teams.say(AMINA, "help") == 201
    assert await teams.say(LUCY, "help") == 201  # a delegate only: the first they send
    assert await teams.say(HELEN, "what now?") == 201  # neither: a real code of the council
    amina, lucy, helen = (card_text(c) for c in teams.connector.cards())
    assert "submit RB-01" in amina
    assert "as in submit RB-01 2026/27 M7" in amina
    assert "snooze RB-01 until 2026-12-07" in amina
    assert "away until 2026-12-07 delegate name@council.gov.uk" in amina
    assert "undelegate RB-01 from name@council.gov.uk" in amina
    assert "submit RB-01" in lucy
    for text in (amina, lucy, helen):
        assert "HS-04" not in text
    async with teams.client.app[SESSIONS]() as session:
        first = await session.scalar(select(Measure.code).order_by(Measure.code).limit(1))
    assert f"submit {first}" in helen


async def test_the_cover_ends_on_the_day_given_and_the_owner_is_chased_again(teams):
    await teams.install(AMINA)
    await teams.install(LUCY)
    assert await teams.say(AMINA, "away until 2026-11-25") == 201
    teams.now = NOW + timedelta(days=2)  # Wednesday 25 November: back, and the T+3 chaser
    teams.connector.clear()
    await chasers(teams)
    assert [c.body["text"] for c in teams.sent_to(AMINA) if c.body.get("text")]
    assert not any("you are covering" in t for t in said(teams, LUCY))
