"""Who may act, and on what (issue 17): a stored Entra id is never replaced from an activity,
another organisation's Teams is refused when the council's tenant is set, and a card's
buttons act only on what PerfBot issued them for, under keys the council can rotate."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.app import SESSIONS, create_app
from bot.loopback import card_text
from bot.settings import Settings
from domain import card_keys
from domain.model import AuditEntry, Person, Return
from tests.bot.conftest import AMINA, GARETH, MARK, STRANGER, TENANT, Teams
from tests.conftest import NOW

REFUSED_ACCOUNT = "This Teams account is not the one PerfBot has on record for you"


async def person(teams: Teams, email: str) -> Person:
    async with teams.client.app[SESSIONS]() as session:
        found = await session.scalar(select(Person).where(Person.email == email))
        assert found is not None
        return found


async def audited(teams: Teams, action: str) -> list[AuditEntry]:
    async with teams.client.app[SESSIONS]() as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows)


async def returns(teams: Teams) -> int:
    async with teams.client.app[SESSIONS]() as session:
        return int(await session.scalar(select(func.count()).select_from(Return)) or 0)


async def test_an_activity_claiming_another_entra_id_than_teams_gives_is_refused(teams):
    await teams.install(AMINA)
    assert (await person(teams, AMINA.email)).aad_object_id == AMINA.aad
    teams.connector.clear()
    # Amina's Teams id, with an Entra id Teams does not give for her (the member lookup does).
    claim = teams.activity(AMINA, text="my measures")
    claim["from"]["aadObjectId"] = "0000-forged"
    assert await teams.post(claim) == 201
    [said] = teams.connector.texts()
    assert said.startswith(REFUSED_ACCOUNT)
    assert teams.connector.cards() == []  # nothing of her measures
    assert (await person(teams, AMINA.email)).aad_object_id == AMINA.aad
    [entry] = await audited(teams, "refused other account")
    assert entry.changes["aad_object_id"] == "0000-forged"


async def test_a_new_account_with_a_linked_persons_email_never_replaces_their_entra_id(teams):
    await teams.install(AMINA)
    # Someone else's Teams account whose directory entry carries Amina's email.
    teams.connector.add_member("29:copy", "Amina Hussain", AMINA.email, "aad-copy")
    teams.connector.clear()
    copy = teams.activity(AMINA, text="my measures", conversation_id="a:personal-29:copy")
    copy["from"] = {"id": "29:copy", "name": "Amina Hussain", "aadObjectId": "aad-copy"}
    assert await teams.post(copy) == 201
    [said] = teams.connector.texts()
    assert said.startswith(REFUSED_ACCOUNT)
    assert "update the people sheet" in said
    assert (await person(teams, AMINA.email)).aad_object_id == AMINA.aad
    assert len(await audited(teams, "refused other account")) == 1
    linked = [e.changes.get("aad_object_id") for e in await audited(teams, "link identity")]
    assert [ids for ids in linked if ids] == [[None, AMINA.aad]]  # hers, at install


async def test_with_the_councils_tenant_set_another_tenants_teams_is_refused_without_an_app_id(
    aiohttp_client: Any, council_engine: Any, connector: Any
):
    holder: list[Teams] = []
    app = create_app(
        Settings(tenant_setting=TENANT), engine=council_engine, clock=lambda: holder[0].now
    )
    teams = Teams(await aiohttp_client(app), connector)
    holder.append(teams)
    elsewhere = teams.activity(AMINA, text="my measures")
    elsewhere["conversation"]["tenantId"] = "other-council"
    elsewhere["channelData"] = {"tenant": {"id": "other-council"}}
    assert await teams.post(elsewhere) in (200, 201)
    assert teams.connector.sent() == []
    [entry] = await audited(teams, "refused other tenant")
    assert entry.key == "other-council"
    assert await teams.say(AMINA, "help") == 201  # the council's own tenant is answered
    assert teams.connector.cards()


async def press_submit(teams: Teams, card: dict[str, Any], **typed: str) -> None:
    data = next(a["data"] for a in card["actions"] if a.get("title") == "Submit")
    await teams.submit(AMINA, "card-1", {**data, **typed})


async def test_a_card_issued_before_a_key_rotation_works_until_the_older_key_is_retired(
    teams, aiohttp_client: Any, council_engine: Any
):
    await teams.install(AMINA)
    teams.connector.clear()
    assert await teams.say(AMINA, "submit RB-01") == 201
    [before] = teams.connector.cards()
    stored = await returns(teams)
    async with teams.client.app[SESSIONS]() as session, session.begin():
        assert await card_keys.rotate(session, "cli:test", NOW) == 2
    # Another server process (or this one after a restart) seals with the newest key...
    other = Teams(
        await aiohttp_client(create_app(Settings(), engine=council_engine, clock=lambda: NOW)),
        teams.connector,
    )
    teams.connector.clear()
    assert await other.say(AMINA, "submit RB-01") == 201
    [after] = teams.connector.cards()
    assert (
        next(a["data"] for a in after["actions"] if a.get("title") == "Submit")["sig"][:2] == "2."
    )
    # ... and the card sealed before still opens there.
    await press_submit(other, before, actual="66.5", commentary="On profile.")
    assert "Received: RB-01" in card_text(teams.connector.cards(teams.connector.updates())[-1])

    async with teams.client.app[SESSIONS]() as session, session.begin():
        assert await card_keys.retire_older(session, "cli:test", NOW) == [1]
    teams.connector.clear()
    await press_submit(other, before, actual="66.6", commentary="Corrected.")
    [said] = teams.connector.texts()
    assert (
        said
        == "That card is an older one PerfBot no longer accepts, so nothing was saved. Type my measures for a fresh card."
    )
    assert await returns(teams) == stored + 1
    [entry] = await audited(teams, "refused altered card")
    assert entry.actor == AMINA.email
    assert entry.changes["reason"] == "sealed with card key 1, which is not in use"


async def test_a_return_card_edited_to_an_old_period_is_refused_and_audited(teams):
    await teams.install(GARETH)
    teams.connector.clear()
    assert await teams.say(GARETH, "submit RB-04") == 201
    [card] = teams.connector.cards()
    data = next(a["data"] for a in card["actions"] if a.get("title") == "Submit")
    stored = await returns(teams)
    for period in ("1900/01 M1", "2025/26 M1", "0001/02 M1"):
        await teams.submit(
            GARETH, "card-1", {**data, "period": period, "actual": "6", "commentary": "Old."}
        )
    assert await returns(teams) == stored
    # kept under the measure and period the card named, for `perfbot audit --measure RB-04`
    refused = await audited(teams, "refused altered card")
    assert [(e.entity, e.key) for e in refused] == [
        ("return", "RB-04 1900/01 M1"),
        ("return", "RB-04 2025/26 M1"),
        ("return", "RB-04 0001/02 M1"),
    ]
    assert {e.changes["card"] for e in refused} == {"submit_return"}


async def test_another_teams_account_sending_a_linked_persons_entra_id_is_refused(teams):
    await teams.install(AMINA)
    teams.connector.clear()
    borrowed = teams.activity(STRANGER, text="my measures")
    borrowed["from"]["aadObjectId"] = AMINA.aad  # Teams gives Sam's own for this account
    assert await teams.post(borrowed) == 201
    [said] = teams.connector.texts()
    assert said.startswith(REFUSED_ACCOUNT)
    assert teams.connector.cards() == []
    amina = await person(teams, AMINA.email)
    assert (amina.aad_object_id, amina.teams_user_id) == (AMINA.aad, AMINA.teams_id)
    assert len(await audited(teams, "refused other account")) == 1


async def test_a_member_added_who_has_left_since_is_no_fault(teams):
    await teams.install(AMINA)
    teams.connector.clear()
    gone = teams.activity(AMINA, "conversationUpdate", membersAdded=[{"id": "29:left-since"}])
    assert await teams.post(gone) in (200, 201)
    assert teams.connector.sent() == []  # no member lookup, no apology


async def test_text_that_nfc_lengthens_past_the_limit_comes_back_cut_short(teams):
    await teams.install(AMINA)
    teams.connector.clear()
    assert await teams.say(AMINA, "submit RB-01") == 201
    [card] = teams.connector.cards()
    stored = await returns(teams)
    wide = "\U0001d160" * 3_990  # 3,990 characters, 11,970 once in NFC
    await press_submit(teams, card, actual="66.5", commentary=wide)
    [back] = teams.connector.cards(teams.connector.updates())
    assert "This is over 4,000 characters, so it is cut short here" in card_text(back)
    assert await returns(teams) == stored


async def test_an_altered_card_says_where_a_fresh_one_of_its_kind_comes_from(teams):
    await teams.install(MARK)
    teams.connector.clear()
    altered = {"verb": "acknowledge_escalation", "escalation": "1", "sig": "1.AAAA"}
    await teams.submit(MARK, "card-1", altered)
    [said] = teams.connector.texts()
    assert said.endswith("so nothing was saved. Type status for a fresh card.")
    teams.connector.clear()
    await teams.submit(MARK, "card-2", {"verb": "launch_missiles"})
    assert teams.connector.texts()[0].startswith("That card is not one PerfBot recognises")
    assert [e.key for e in await audited(teams, "refused altered card")] == [
        "acknowledge_escalation",
        "launch_missiles",
    ]


async def test_a_stored_conversation_whose_service_url_is_not_http_is_never_called(teams):
    from datetime import timedelta

    from sqlalchemy import update

    from domain.model import ConversationRef, Notification, NotificationState
    from tests.bot.test_delivery import MONDAY_NINE, Clock, dispatcher, queue_chasers

    await teams.install(AMINA)
    async with teams.client.app[SESSIONS]() as session, session.begin():
        ref = await session.scalar(select(ConversationRef))
        stored = dict(ref.reference, serviceUrl="file:///etc/passwd")
        await session.execute(
            update(ConversationRef).values(service_url="file:///etc/passwd", reference=stored)
        )
    queued = await queue_chasers(teams)
    assert queued
    teams.connector.clear()
    await dispatcher(teams, Clock(MONDAY_NINE + timedelta(minutes=1))).run_once()
    assert teams.connector.sent() == []
    async with teams.client.app[SESSIONS]() as session:
        rows = list(await session.scalars(select(Notification)))
    assert NotificationState.SENT not in {n.state for n in rows}
    # refused before any call, as a conversation that cannot be reached
    assert any("ServiceUrlRefused" in (n.last_error or "") for n in rows)
