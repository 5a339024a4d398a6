"""The escalation card as Mark Taylor, escalation owner, lives it: Amina's Action return for
RB-06 reaches him as a card with her words; he acknowledges, agrees remedial action, asks
her a question (her answer comes back to him and updates his card in place), requests a
deep dive; her correction back on track closes it. Nobody else may press his buttons; a
spent button says so; the performance team may act."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.app import ADAPTER, SESSIONS
from bot.delivery.dispatcher import Dispatcher
from bot.loopback import Call, card_text, elements
from bot.settings import Settings
from domain.model import (
    ActionPlan,
    AuditEntry,
    DeepDive,
    Escalation,
    EscalationQuestion,
    Notification,
    Person,
)
from domain.notifications import Kind, queue
from tests.bot.conftest import AMINA, GARETH, MARK, NOW, Teams, User

RACHEL = User("29:rachel", "Rachel Singh", "rachel.singh@kingsmere.gov.uk", "aad-rachel")
Q2 = "2026/27 Q2"
AGREED = ActionPlan.source == "agreed"  # the owner's own action may be on the plan too


class Clock:
    def __init__(self, teams: Teams) -> None:
        self.teams = teams

    def __call__(self):
        return self.teams.now


async def dispatch(teams: Teams) -> None:
    app = teams.client.app
    await Dispatcher(Settings(), app[SESSIONS], app[ADAPTER], Clock(teams)).run_once()


def to(teams: Teams, user: User) -> list[Call]:
    chat = f"a:personal-{user.teams_id}"
    return [c for c in teams.connector.sent() if c.conversation_id == chat]


def button(card: dict[str, Any], title: str) -> dict[str, Any]:
    """The data of a button (or of the Submit inside a ShowCard) by its title."""
    for action in card.get("actions", []):
        if action.get("title") == title:
            if action["type"] == "Action.ShowCard":
                return action["card"]["actions"][0]["data"]
            return action["data"]
    raise AssertionError(f"no button {title!r} on the card")


def titles(card: dict[str, Any]) -> list[str]:
    return [a["title"] for a in card.get("actions", [])]


async def count(teams: Teams, model: Any, *where: Any) -> int:
    async with teams.client.app[SESSIONS]() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def the_escalation(teams: Teams) -> Escalation:
    async with teams.client.app[SESSIONS]() as session:
        found = await session.scalar(select(Escalation))
    assert found is not None
    return found


async def send_rb06(teams: Teams, figure: str, **typed: str) -> str:
    """Amina sends RB-06 for Q2 from its card; the receipt's text."""
    teams.connector.clear()
    assert await teams.say(AMINA, "submit RB-06") == 201
    [card] = teams.connector.cards()
    value = {
        **button(card, "Submit"),
        "actual": figure,
        "commentary": "",
        "action": "",
        "action_due": "",
        **typed,
    }
    await teams.submit(AMINA, f"card-{figure}", value)
    return card_text(teams.connector.cards(teams.connector.updates())[-1])


async def escalated(teams: Teams) -> tuple[str, dict[str, Any]]:
    """Amina's Action return for RB-06, and the escalation card as it reached Mark: the
    text it came with and the card."""
    await teams.install(MARK)
    await teams.install(AMINA)
    receipt = await send_rb06(
        teams,
        "78",
        commentary="Two assessors off sick <b>& a backlog</b> of 400 claims.",
        action="Overtime on Saturdays until the backlog is cleared.",
        action_due="2027-01-29",
    )
    assert "Mark Taylor is being sent an escalation with your commentary and action." in receipt
    teams.connector.clear()
    await dispatch(teams)
    [call] = to(teams, MARK)
    [card] = teams.connector.cards([call])
    return call.body.get("text", ""), card


async def sent_activity(teams: Teams, reason_key: str) -> str:
    async with teams.client.app[SESSIONS]() as session:
        row = await session.scalar(
            select(Notification).where(Notification.reason_key == reason_key)
        )
    assert row is not None
    assert row.activity_id
    return row.activity_id


async def press(teams: Teams, user: User, card_id: str, data: dict[str, Any], **typed: str) -> str:
    """A button pressed; what came back: the card put in its place, or the words said."""
    teams.connector.clear()
    await teams.submit(user, card_id, {**data, **typed})
    updates = teams.connector.cards(teams.connector.updates())
    if updates:
        return card_text(updates[-1])
    return "\n".join(teams.connector.texts())


async def test_the_whole_escalation_from_action_to_recovery(teams):
    _, card = await escalated(teams)
    card_id = await sent_activity(teams, "escalation:RB-06:2026/27 Q2:off-track")
    text = card_text(card)
    # The measure, the figure against target with the rating's sentence, the owner's words.
    assert "Escalation: RB-06 · Council Tax Support claims decided within 14 days" in text
    assert "Revenues and Benefits" in text
    assert "Amina Hussain" in text
    assert "78.0% against a target of 90.0%" in text
    assert "13.3% worse than target" in text
    assert "Two assessors off sick <b>& a backlog</b> of 400 claims." in text
    assert "Overtime on Saturdays until the backlog is cleared." in text
    assert "Friday 29 January 2027" in text
    # The last four periods with ratings, and direction of travel.
    assert "Last 4 periods" in text
    assert "2026/27 Q1" in text
    assert "2025/26 Q3" in text
    assert "Since last period" in text
    assert "↓ declining" in text
    assert "Since last year" in text
    assert titles(card) == [
        "Acknowledge",
        "Agree remedial action",
        "Ask the owner",
        "Request deep dive",
    ]  # RB-06 is a measure, not a key action: it cannot be stopped

    # Acknowledge: the card is replaced in place, saying who and when.
    teams.now = NOW + timedelta(minutes=4)
    shown = await press(teams, MARK, card_id, button(card, "Acknowledge"))
    assert teams.connector.updates()[-1].activity_id == card_id
    assert "Mark Taylor acknowledged it at 10:04 on Monday 23 November." in shown
    replaced = teams.connector.cards(teams.connector.updates())[-1]
    assert "Acknowledge" not in titles(replaced)  # spent: no longer offered
    assert "Agree remedial action" in titles(replaced)
    # The old copy pressed again changes nothing and says so.
    teams.now = NOW + timedelta(minutes=9)
    again = await press(teams, MARK, card_id, button(card, "Acknowledge"))
    assert "Mark Taylor acknowledged this at 10:04 on Monday 23 November. Nothing was changed." in (
        again
    )
    assert (await the_escalation(teams)).acknowledged_at == NOW + timedelta(minutes=4)

    # Agree remedial action: bad input comes back on the card and nothing is stored.
    agree = button(card, "Agree remedial action")
    shown = await press(
        teams,
        MARK,
        card_id,
        agree,
        remedial="",
        remedial_owner="",
        remedial_owner_email="nobody@elsewhere.example",
        remedial_due="2026-11-01",
    )
    assert "Say what remedial action is agreed." in shown
    assert "Sunday 1 November 2026 has passed: choose a later date." in shown
    assert "nobody@elsewhere.example is not someone PerfBot knows" in shown
    shown = await press(
        teams, MARK, card_id, agree, remedial="Agency staff", remedial_due="next Tuesday"
    )
    assert "'next Tuesday' is not a date" in shown
    assert await count(teams, ActionPlan, AGREED) == 0
    assert (await the_escalation(teams)).remedial_agreed_at is None
    shown = await press(
        teams,
        MARK,
        card_id,
        agree,
        remedial="Two agency assessors for eight weeks.",
        remedial_owner=AMINA.email,
        remedial_owner_email="",
        remedial_due="2027-01-15",
    )
    assert "Remedial action agreed: Amina Hussain by Friday 15 January 2027." in shown
    assert "Mark Taylor agreed remedial action at 10:09 on Monday 23 November" in shown
    async with teams.client.app[SESSIONS]() as session:
        [item] = list(await session.scalars(select(ActionPlan).where(AGREED)))
    assert (item.description, item.source, item.due_date.isoformat()) == (
        "Two agency assessors for eight weeks.",
        "agreed",
        "2027-01-15",
    )
    assert item.escalation_id == (await the_escalation(teams)).id

    # Ask the owner: Amina gets the question as a card, answers; Mark hears, and his card
    # (the one sent to his chat) is updated in place with the question and answer.
    shown = await press(
        teams, MARK, card_id, button(card, "Ask the owner"), question="Is overtime funded?"
    )
    assert "Your question has been sent to Amina Hussain." in shown
    # A double press (or Teams sending the press again) asks once.
    again = await press(
        teams, MARK, card_id, button(card, "Ask the owner"), question="Is overtime funded?"
    )
    assert "You have asked Amina Hussain this already; it waits for an answer." in again
    assert await count(teams, EscalationQuestion) == 1
    teams.connector.clear()
    await dispatch(teams)
    [asked] = to(teams, AMINA)
    [question] = teams.connector.cards([asked])
    assert "Mark Taylor has a question on RB-06 for 2026/27 Q2." in asked.body["text"]
    assert "Is overtime funded?" in card_text(question)
    question_id = await sent_activity(teams, f"question:{await question_row(teams)}")
    answered = await press(
        teams, AMINA, question_id, button(question, "Send answer"), answer="Yes, from reserves."
    )
    assert "Thank you: your answer has gone to Mark Taylor." in answered
    teams.connector.clear()
    await dispatch(teams)
    heard = [c.body.get("text") for c in to(teams, MARK)]
    assert "Amina Hussain answered your question on RB-06: Yes, from reserves." in heard
    [update] = teams.connector.updates()
    assert update.conversation_id == f"a:personal-{MARK.teams_id}"
    assert update.activity_id == card_id  # the escalation card itself, in place
    updated = card_text(teams.connector.cards([update])[0])
    assert "Is overtime funded?" in updated
    assert "Yes, from reserves." in updated
    assert "Amina Hussain answered at 10:09 on Monday 23 November" in updated
    # A second answer from the old question card changes nothing.
    again = await press(teams, AMINA, question_id, button(question, "Send answer"), answer="No.")
    assert "This was answered already" in again
    async with teams.client.app[SESSIONS]() as session:
        [q] = list(await session.scalars(select(EscalationQuestion)))
    assert q.answer == "Yes, from reserves."

    # Request deep dive: flagged for the Leadership Team.
    shown = await press(teams, MARK, card_id, button(card, "Request deep dive"))
    assert "Deep dive requested: RB-06 " in shown
    assert "flagged for the Leadership Team" in shown
    assert "Mark Taylor requested a deep dive at 10:09 on Monday 23 November." in shown
    async with teams.client.app[SESSIONS]() as session:
        [dive] = list(await session.scalars(select(DeepDive)))
    assert dive.period == Q2  # "requested", unless already flagged as off track too long
    assert (await the_escalation(teams)).deep_dive_requested

    # Amina corrects the figure back on track: Mark is told it recovered, and it is closed.
    receipt = await send_rb06(teams, "90.3", commentary="Figure corrected: the report was wrong.")
    assert (
        "It is back on track, so the escalation to Mark Taylor is closed and Mark Taylor is "
        "being told it recovered." in receipt
    )
    escalation = await the_escalation(teams)
    assert escalation.closed_reason == "recovered"
    teams.connector.clear()
    await dispatch(teams)
    told = card_text(teams.connector.cards(to(teams, MARK))[0])
    assert "Recovered: RB-06 for 2026/27 Q2 is back on track" in told
    assert "Amina Hussain corrected RB-06" in told
    assert "90.3%" in told
    # Buttons on the old card now change nothing.
    shown = await press(teams, MARK, card_id, button(card, "Ask the owner"), question="And?")
    assert "This escalation closed at" in shown
    assert "back on track" in shown
    audit = await actions_audited(teams)
    for done in ("escalate", "acknowledge", "agree remedial action", "add action"):
        assert done in audit
    for done in ("ask the owner", "answer", "request deep dive", "recovered"):
        assert done in audit


async def question_row(teams: Teams) -> int:
    async with teams.client.app[SESSIONS]() as session:
        found = await session.scalar(select(EscalationQuestion.id))
    assert found is not None
    return found


async def actions_audited(teams: Teams) -> list[str]:
    async with teams.client.app[SESSIONS]() as session:
        return list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


async def test_nobody_but_the_escalation_owner_or_an_admin_may_press_its_buttons(teams):
    _, card = await escalated(teams)
    card_id = await sent_activity(teams, "escalation:RB-06:2026/27 Q2:off-track")
    before = await the_escalation(teams)
    typed = {
        "remedial": "Mine.",
        "remedial_owner": GARETH.email,
        "remedial_due": "2027-02-01",
        "question": "Why?",
    }
    for title, refused in (
        ("Acknowledge", "refused acknowledge"),
        ("Agree remedial action", "refused agree remedial action"),
        ("Ask the owner", "refused ask the owner"),
        ("Request deep dive", "refused request deep dive"),
    ):
        said = await press(teams, GARETH, card_id, button(card, title), **typed)
        assert not teams.connector.updates()  # his copy of the card stays as it was
        assert said == (
            "Sorry: only the escalation owner of RB-06 (Mark Taylor) or the performance team "
            "can act on its escalation. Nothing was changed."
        )
        assert refused in await actions_audited(teams)
    after = await the_escalation(teams)
    assert (after.acknowledged_at, after.remedial_agreed_at, after.deep_dive_requested) == (
        before.acknowledged_at,
        before.remedial_agreed_at,
        before.deep_dive_requested,
    )
    assert await count(teams, ActionPlan, AGREED) == 0
    assert await count(teams, EscalationQuestion) == 0
    assert await count(teams, DeepDive, DeepDive.reason == "requested") == 0
    # Nor may someone answer a question put to Amina.
    await press(teams, MARK, card_id, button(card, "Ask the owner"), question="Funded?")
    question = await teams.sealed(  # the question card sent to Amina
        {"verb": "answer_question", "question": str(await question_row(teams))}
    )
    said = await press(teams, GARETH, "x", question, answer="Not mine to say.")
    assert "only Amina Hussain, as owner of RB-06, a delegate or the performance team" in said
    assert "refused answer" in await actions_audited(teams)


async def test_the_performance_team_may_act_for_the_escalation_owner(teams):
    teams.connector.add_member(RACHEL.teams_id, RACHEL.name, RACHEL.email, RACHEL.aad)
    _, card = await escalated(teams)
    shown = await press(teams, RACHEL, "her-copy", button(card, "Acknowledge"))
    assert "Rachel Singh acknowledged it at 10:00 on Monday 23 November." in shown
    escalation = await the_escalation(teams)
    assert escalation.acknowledged_at == NOW


async def test_status_shows_an_escalation_owner_his_off_track_measures_and_opens_the_card(teams):
    _, card = await escalated(teams)
    card_id = await sent_activity(teams, "escalation:RB-06:2026/27 Q2:off-track")
    await press(
        teams,
        MARK,
        card_id,
        button(card, "Agree remedial action"),
        remedial="Agency assessors.",
        remedial_owner=AMINA.email,
        remedial_due="2027-01-15",
    )
    teams.connector.clear()
    assert await teams.say(MARK, "status") == 201
    [status] = teams.connector.cards()
    text = card_text(status)
    assert "Off track, escalated to you" in text
    assert "RB-06 · Council Tax Support claims decided within 14 days" in text
    assert "Commentary: Two assessors off sick <b>& a backlog</b> of 400 claims." in text
    assert "Agency assessors. (Amina Hussain, due Friday 15 January)" in text
    assert "NOT acknowledged, remedial action agreed" in text
    assert "Revenues and Benefits — " in text  # the service's status is still there
    [open_button] = [
        a for node in elements(status) if node.get("type") == "ActionSet" for a in node["actions"]
    ]
    assert open_button["title"] == "Open the RB-06 escalation"
    teams.connector.clear()
    await teams.submit(MARK, "status-card", open_button["data"])
    [again] = teams.connector.cards()
    assert "Escalation: RB-06" in card_text(again)
    assert "Acknowledge" in titles(again)
    # Someone else's status shows no such section.
    teams.connector.clear()
    assert await teams.say(AMINA, "status") == 201
    assert "status is for escalation owners" in teams.connector.texts()[0]


async def test_an_unacknowledged_escalation_is_reminded_once_after_three_working_days(teams):
    from domain import escalations
    from domain.policy import Policy

    _, _card = await escalated(teams)

    async def remind(days: int) -> list[str]:
        async with teams.client.app[SESSIONS]() as session, session.begin():
            return await escalations.remind_unacknowledged(
                session, NOW + timedelta(days=days), Policy()
            )

    assert await remind(2) == []  # Wednesday: two working days
    assert await remind(3) == ["escalation-reminder:1"]  # Thursday
    assert await remind(4) == []  # once
    teams.now = NOW + timedelta(days=3)
    teams.connector.clear()
    await dispatch(teams)
    [call] = [c for c in to(teams, MARK) if c.body["text"].startswith("Reminder:")]
    assert call.body["text"] == (
        "Reminder: RB-06 for 2026/27 Q2 was escalated to you on Monday 23 November 2026 and has "
        "not been acknowledged yet."
    )


async def test_an_unreachable_escalation_owner_s_card_goes_to_the_performance_team_who_may_act(
    teams,
):
    teams.connector.add_member(RACHEL.teams_id, RACHEL.name, RACHEL.email, RACHEL.aad)
    await teams.install(RACHEL)
    await teams.install(AMINA)  # Mark has not installed PerfBot
    receipt = await send_rb06(
        teams, "78", commentary="Backlog.", action="Overtime.", action_due="2027-01-29"
    )
    assert "PerfBot cannot reach Mark Taylor yet" in receipt
    assert "Rachel Singh" in receipt
    teams.connector.clear()
    await dispatch(teams)
    [call] = to(teams, RACHEL)
    assert call.body["text"] == (
        "For Mark Taylor: Escalation: RB-06 for 2026/27 Q2 is rated 🚩 Action."
    )
    [card] = teams.connector.cards([call])
    text = card_text(card)
    assert text.startswith("For Mark Taylor: PerfBot cannot reach them yet")
    assert "Backlog." in text
    assert "Overtime." in text
    shown = await press(teams, RACHEL, call.body.get("id") or "copy", button(card, "Acknowledge"))
    assert "Rachel Singh acknowledged it at 10:00 on Monday 23 November." in shown


async def test_a_card_teams_will_not_update_in_place_is_sent_anew(teams):
    from bot.loopback import Fault

    _, card = await escalated(teams)
    card_id = await sent_activity(teams, "escalation:RB-06:2026/27 Q2:off-track")
    await press(teams, MARK, card_id, button(card, "Ask the owner"), question="Funded?")
    await dispatch(teams)
    question = await question_row(teams)
    sent = await teams.sealed({"verb": "answer_question", "question": str(question)})
    await press(teams, AMINA, "q", sent, answer="Yes.")
    teams.connector.clear()
    teams.connector.update_faults.append(
        Fault(404, body={"error": {"code": "ActivityNotFound", "message": "gone"}})
    )
    await dispatch(teams)
    [update] = teams.connector.updates()
    assert update.status == 404
    to_mark = to(teams, MARK)
    assert len(to_mark) == 2  # the answer, and the card sent anew
    texts = [card_text(c) for c in teams.connector.cards(to_mark)]
    assert any("Escalation: RB-06" in t and "Yes." in t for t in texts)
    async with teams.client.app[SESSIONS]() as session:
        mark = await session.scalar(select(Person).where(Person.email == MARK.email))
    assert mark.unreachable_reason is None  # a card gone is not a person gone


async def test_an_escalation_queued_before_escalation_cards_still_reaches_its_owner(teams):
    """A row queued by an earlier PerfBot (the owner's words in its payload, no escalation
    id) waiting for an escalation owner who installs PerfBot after the upgrade: it goes, as
    the notice it was, rather than being dropped."""
    await teams.install(MARK)
    async with teams.client.app[SESSIONS]() as session, session.begin():
        mark = await session.scalar(select(Person).where(Person.email == MARK.email))
        await queue(
            session,
            Kind.ESCALATION,
            "RB-06:2026/27 Q2:off-track",
            person_id=mark.id,
            payload={
                "code": "RB-06",
                "title": "Council Tax Support claims decided within 14 days",
                "period": "2026/27 Q2",
                "rating": "Action",
                "explanation": "78.0% against a target of 90.0% is 13.3% worse than target.",
                "owner": "Amina Hussain",
                "commentary": "Two assessors off sick.",
                "action": "Overtime on Saturdays.",
                "action_due": "2027-01-29",
            },
            now=teams.now,
        )
    teams.connector.clear()
    await dispatch(teams)
    [card] = teams.connector.cards(to(teams, MARK))
    text = card_text(card)
    assert "Escalation: RB-06 for 2026/27 Q2 is rated Action" in text
    assert "Two assessors off sick." in text
    assert "Overtime on Saturdays." in text
