"""Sign-off in chat, through /api/messages and the loopback connector (issue 13): Amina's
figure reaches Mark Taylor on a review card; he returns it with a comment; she gets her
return card back filled in as she sent it, with his comment, and sends it again; it comes
back to him and he approves it. A tampered card and a reviewer from another service are
refused, and nothing changes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.app import SESSIONS
from bot.loopback import Call, card_text, elements
from domain.model import AuditEntry, Measure, Return, ReturnState
from tests.bot.conftest import AMINA, MARK, Teams, User

CLAIRE = User("29:claire", "Claire Whitfield", "claire.whitfield@kingsmere.gov.uk", "aad-claire")
M7 = "2026/27 M7"


async def dispatch(teams: Teams) -> None:
    await teams.dispatch()


def to(teams: Teams, user: User) -> list[Call]:
    return teams.sent_to(user)


def submit_data(card: dict[str, Any], title: str) -> dict[str, Any]:
    """The data of an Action.Submit by its title, or of the Submit inside a ShowCard."""
    for node in elements(card):
        if node.get("title") != title:
            continue
        if node.get("type") == "Action.Submit":
            return dict(node["data"])
        if node.get("type") == "Action.ShowCard":
            return dict(node["card"]["actions"][0]["data"])
    raise AssertionError(f"no button {title!r} on the card")


def inputs(card: dict[str, Any]) -> dict[str, str]:
    return {
        n["id"]: n.get("value", "")
        for n in elements(card)
        if n.get("type", "").startswith("Input.")
    }


async def press(teams: Teams, user: User, data: dict[str, Any], **typed: str) -> str:
    """A button pressed; what came back: the card put in its place, or the words said."""
    teams.connector.clear()
    await teams.submit(user, "card-1", {**data, **typed})
    updates = teams.connector.cards(teams.connector.updates())
    if updates:
        return card_text(updates[-1])
    return "\n".join(teams.connector.texts())


async def versions(teams: Teams) -> list[Return]:
    async with teams.client.app[SESSIONS]() as session:
        query = select(Return).join(Measure).where(Measure.code == "RB-01", Return.period == M7)
        return list(await session.scalars(query.order_by(Return.version)))


async def only_card_to(teams: Teams, user: User) -> tuple[str, dict[str, Any]]:
    [call] = to(teams, user)
    [card] = teams.connector.cards([call])
    return call.body.get("text", ""), card


async def amina_sends_rb01(teams: Teams) -> str:
    teams.connector.clear()
    assert await teams.say(AMINA, "submit RB-01") == 201
    [card] = teams.connector.cards()
    data = submit_data(card, "Submit")
    return await press(
        teams,
        AMINA,
        data,
        actual="97.5",
        commentary="Strong month: the new direct debit push.",
        action="",
        action_due="",
    )


async def test_mark_returns_aminas_figure_she_sends_it_again_and_he_approves_it(teams):
    await teams.install(MARK)
    await teams.install(AMINA)
    receipt = await amina_sends_rb01(teams)
    assert "It goes to Mark Taylor (the escalation owner) to approve." in receipt

    # Ten minutes on (a service sending several returns makes one card), Mark's card goes.
    teams.connector.clear()
    await dispatch(teams)
    assert to(teams, MARK) == []
    teams.now += timedelta(minutes=11)
    await dispatch(teams)
    text, card = await only_card_to(teams, MARK)
    assert text == "1 return for 2026/27 M7 (October 2026) awaits your approval."
    shown = card_text(card)
    assert "RB-01 Council tax collected in year" in shown
    assert "97.5%  ★ Strong" in shown
    assert "97.5% against a target of 66.3% is 47.1% better than target: Strong." in shown
    assert "Strong month: the new direct debit push." in shown
    assert "Sent by\nAmina Hussain, 10:00 on Monday 23 November" in shown

    # He returns it with a comment: his card says so, and she is sent it.
    back = submit_data(card, "Return with comment")
    [comment_id] = [k for k in inputs(card) if k.startswith("comment_")]
    assert "Say what needs changing" in await press(teams, MARK, back, **{comment_id: " "})
    after = await press(teams, MARK, back, **{comment_id: "Which accounts moved to direct debit?"})
    assert "Returned RB-01 for 2026/27 M7: Amina Hussain is sent your comment" in after
    assert "Nothing else awaits your approval for 2026/27 M7 (October 2026)" in after
    assert [v.state for v in await versions(teams)] == [ReturnState.RETURNED]

    teams.connector.clear()
    await dispatch(teams)
    text, returned = await only_card_to(teams, AMINA)
    assert text == "RB-01 for 2026/27 M7 was returned to you by Mark Taylor, with a comment."
    assert "Mark Taylor returned this to you with a comment: “Which accounts moved" in card_text(
        returned
    )
    typed = inputs(returned)
    assert typed["actual"] == "97.5"
    assert typed["commentary"] == "Strong month: the new direct debit push."

    # She sends it again from that card; it goes back to him at once.
    receipt = await press(
        teams,
        AMINA,
        submit_data(returned, "Submit"),
        **{**typed, "commentary": "Direct debit push: 1,200 accounts moved."},
    )
    assert "Mark Taylor, who returned it, is sent it again to approve." in receipt
    first, second = await versions(teams)
    assert (second.version, second.state) == (2, ReturnState.SUBMITTED)

    teams.connector.clear()
    await dispatch(teams)
    text, again = await only_card_to(teams, MARK)
    assert text == "Amina Hussain sent RB-01 again."
    assert "You returned it before: “Which accounts moved to direct debit?”" in card_text(again)
    assert "Direct debit push: 1,200 accounts moved." in card_text(again)

    # An old card's button names the first version: it says so, and changes nothing.
    stale = await press(
        teams,
        MARK,
        await teams.sealed({"verb": "approve_return", "returns": [first.id], "period": M7}),
    )
    assert "was sent again by Amina Hussain" in stale
    assert "look at the new one" in stale
    approved = await press(teams, MARK, submit_data(again, "Approve"))
    assert "Approved RB-01 at 10:11 on Monday 23 November." in approved
    assert [v.state for v in await versions(teams)] == [ReturnState.RETURNED, ReturnState.APPROVED]

    teams.connector.clear()
    assert await teams.say(MARK, "review") == 201
    assert teams.connector.texts() == ["Nothing awaits your approval now."]


async def test_a_tampered_card_and_a_reviewer_from_another_service_change_nothing(teams):
    teams.connector.add_member(CLAIRE.teams_id, CLAIRE.name, CLAIRE.email, CLAIRE.aad)
    for user in (MARK, AMINA, CLAIRE):
        await teams.install(user)
    await amina_sends_rb01(teams)
    [ret] = await versions(teams)

    teams.connector.clear()
    assert await teams.say(MARK, "review") == 201
    [card] = teams.connector.cards()
    data = submit_data(card, "Approve")
    assert data["returns"] == [ret.id]

    outside = await press(teams, CLAIRE, data)
    assert outside.startswith(
        "RB-01 is a Revenues and Benefits measure, outside your service: only its escalation "
        "owner (Mark Taylor) or the performance team can approve or return it."
    )
    own = await press(teams, AMINA, data)
    assert own.startswith("Only its escalation owner (Mark Taylor)")
    # A card whose returns were changed is refused unread, and so is a hand-made one.
    altered = "That card has been changed since PerfBot sent it"
    for tampered in ([], ["x"], [2**40], [-1], "everything", [{"id": ret.id}], [ret.id + 1000]):
        said = await press(teams, MARK, {**data, "returns": tampered})
        assert said.startswith(altered)
    smuggled = await press(
        teams, MARK, {"verb": "return_to_owner", "return": "1 OR 1=1", "comment_1": "x"}
    )
    assert smuggled.startswith(altered)
    # Behind the seal, the use cases still check what a card names.
    for named in ([], ["x"], [2**40], [-1], "everything", [{"id": ret.id}]):
        said = await press(teams, MARK, await teams.sealed({**data, "returns": named}))
        assert said.startswith("That card names no return to approve.")
    unknown = await press(teams, MARK, await teams.sealed({**data, "returns": [ret.id + 1000]}))
    assert unknown.startswith("I can't find that return: nothing was changed.")

    assert [v.state for v in await versions(teams)] == [ReturnState.SUBMITTED]
    async with teams.client.app[SESSIONS]() as session:
        reasons = [
            e.changes["reason"]
            for e in await session.scalars(select(AuditEntry).where(AuditEntry.action == "refused"))
        ]
    assert reasons == ["not a reviewer", "not a reviewer"]

    teams.connector.clear()
    assert await teams.say(AMINA, "review") == 201
    assert teams.connector.texts()[0].startswith("review is for escalation owners")
    teams.connector.clear()
    assert await teams.say(MARK, "review 2026/27 Q9") == 201
    assert "For example: review 2025/26 Q1." in teams.connector.texts()[0]


RACHEL = User("29:rachel", "Rachel Singh", "rachel.singh@kingsmere.gov.uk", "aad-rachel")


async def test_the_performance_team_signs_a_period_off_from_its_card_and_reopens_it(teams):
    teams.connector.add_member(RACHEL.teams_id, RACHEL.name, RACHEL.email, RACHEL.aad)
    for user in (AMINA, RACHEL):
        await teams.install(user)
    await amina_sends_rb01(teams)

    teams.connector.clear()
    assert await teams.say(AMINA, "period 2026/27 M7") == 201
    assert teams.connector.texts()[0].startswith("period is for the performance team")
    teams.connector.clear()
    assert await teams.say(RACHEL, "period 2026/27 M7") == 201
    [card] = teams.connector.cards()
    text = card_text(card)
    assert "2026/27 M7: sign-off" in text
    assert "Awaiting approval\n1" in text
    assert "RB-01\n97.5% · Amina Hussain" in text

    sign_off = submit_data(card, "Sign off the period")
    refused = await press(teams, RACHEL, sign_off, lock_reason="Cabinet 14 December")
    assert "not yet approved (awaiting approval: RB-01; missing:" in refused
    assert "or turn on “Sign off as it stands” to sign it off as it stands." in refused
    done = await press(
        teams, RACHEL, sign_off, lock_reason="Cabinet 14 December", lock_force="true"
    )
    assert "Signed off 2026/27 M7: its returns can no longer be changed here." in done
    assert (
        "✔ Signed off by rachel.singh@kingsmere.gov.uk on Monday 23 November 2026 "
        "(Cabinet 14 December)." in done
    )

    # Amina can no longer change it, from a card or by asking for one.
    locked = (
        "2026/27 M7 was signed off by rachel.singh@kingsmere.gov.uk on Monday 23 November 2026 "
        "(Cabinet 14 December), so RB-01 2026/27 M7 can no longer be changed"
    )
    teams.connector.clear()
    assert await teams.say(AMINA, "submit RB-01 2026/27 M7") == 201
    assert teams.connector.texts()[0].startswith(locked)
    resent = await press(
        teams,
        AMINA,
        await teams.sealed({"verb": "submit_return", "code": "RB-01", "period": M7}),
        actual="98.1",
        commentary="Late payments.",
    )
    assert resent.startswith(locked)

    # The performance team may correct it, giving a reason: a restatement.
    teams.connector.clear()
    assert await teams.say(RACHEL, "submit RB-01 2026/27 M7") == 201
    [correction] = teams.connector.cards()
    assert "You are correcting a signed-off figure" in card_text(correction)
    typed = {
        "actual": "98.1",
        "commentary": "Late payments posted.",
        "action": "",
        "action_due": "",
    }
    unreasoned = await press(teams, RACHEL, submit_data(correction, "Submit"), **typed)
    assert "This period is signed off: say why the figure is being corrected" in unreasoned
    receipt = await press(
        teams,
        RACHEL,
        submit_data(correction, "Submit"),
        **typed,
        correction_reason="Payments posted late by the bank.",
    )
    assert "Recorded as a restatement of 97.5% in the signed-off 2026/27 M7" in receipt
    _, second = await versions(teams)
    assert (second.restated, second.restated_from) == (True, "97.5%")

    teams.connector.clear()
    assert await teams.say(RACHEL, "period 2026/27 M7") == 201
    [locked_card] = teams.connector.cards()
    assert "Restated\n1" in card_text(locked_card)
    reopen = submit_data(locked_card, "Reopen the period")
    assert "Give a reason for reopening 2026/27 M7" in await press(teams, RACHEL, reopen)
    reopened = await press(teams, RACHEL, reopen, lock_reason="RB-02 figure was wrong")
    assert "Reopened 2026/27 M7: owners can change its returns again." in reopened
