"""The personal chat as a measure owner lives it: install, commands, the return card, receipts,
and every kind of bad input answered clearly with nothing stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.loopback import card_text, elements
from bot.settings import Settings
from domain.model import (
    AuditEntry,
    ConversationRef,
    Delegate,
    Escalation,
    Measure,
    Notification,
    PeriodLock,
    Person,
    Return,
    Snooze,
)
from tests.bot.conftest import (
    AMINA,
    GARETH,
    HELEN,
    JANET,
    LUCY,
    MARK,
    NOW,
    STRANGER,
    Teams,
    unique,
)


async def stored_returns(teams, code: str, period: str) -> list[Return]:
    from bot.app import SESSIONS

    async with teams.client.app[SESSIONS]() as session:
        return list(
            (
                await session.scalars(
                    select(Return)
                    .join(Measure)
                    .where(Measure.code == code, Return.period == period)
                    .order_by(Return.version)
                )
            ).all()
        )


async def count(teams, model, *where) -> int:
    from bot.app import SESSIONS

    async with teams.client.app[SESSIONS]() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def open_card(teams, user, code: str) -> tuple[str, dict]:
    """Type `submit CODE`; the card's Teams activity id and the card."""
    teams.connector.clear()
    assert await teams.say(user, f"submit {code}") == 201
    [call] = teams.connector.sent()
    [card] = teams.connector.cards([call])
    return f"card-{code}", card


def values(**typed: str) -> dict[str, str]:
    # Teams sends every input, empty ones as "", plus the action's data.
    base = {"actual": "", "commentary": "", "action": "", "action_due": "", "reason": ""}
    base.update(typed)
    return base


def data(card: dict, title: str = "Submit") -> dict:
    return next(a["data"] for a in card["actions"] if a.get("title") == title)


# ---- installs and identity ------------------------------------------------------------


async def test_an_escalation_owner_is_welcomed_with_what_comes_to_him(teams):
    await teams.install(MARK)
    [welcome] = teams.connector.cards()
    text = card_text(welcome)
    assert "Hello Mark Taylor, I'm PerfBot" in text
    assert "When a measure you are escalation owner for goes off track" in text
    assert "deep-dive candidates" not in text  # Mark is not in the Leadership Team
    await teams.install(HELEN)
    leader = card_text(teams.connector.cards()[-1])
    assert "deep-dive candidates to accept or decline; type deep dives" in leader


async def test_install_stores_the_reference_and_welcomes_once(teams):
    await teams.install(AMINA)
    welcomes = teams.connector.cards()
    assert len(welcomes) == 1  # installationUpdate and conversationUpdate both arrive
    text = card_text(welcomes[0])
    assert "Hello Amina Hussain, I'm PerfBot" in text
    assert "my measures" in text
    from bot.app import SESSIONS

    async with teams.client.app[SESSIONS]() as session:
        ref = await session.scalar(select(ConversationRef))
        person = await session.scalar(select(Person).where(Person.email == AMINA.email))
    assert ref.conversation_id == "a:personal-29:amina"
    assert ref.person_id == person.id
    assert ref.tenant_id == "tenant-1"
    assert ref.service_url == teams.connector.url
    assert ref.reference["conversation"]["id"] == "a:personal-29:amina"
    assert person.aad_object_id == AMINA.aad  # matched by email once, remembered


async def test_a_changed_service_url_is_updated_and_uninstall_removes_the_reference(teams):
    await teams.install(AMINA)
    moved = teams.activity(AMINA, text="help")
    moved["serviceUrl"] = teams.connector.url.replace("127.0.0.1", "localhost")
    assert await teams.post(moved) == 201
    from bot.app import SESSIONS

    async with teams.client.app[SESSIONS]() as session:
        ref = await session.scalar(select(ConversationRef))
        assert ref.service_url.startswith("http://localhost:")
    assert await teams.post(teams.activity(AMINA, "installationUpdate", action="remove")) in (
        200,
        201,
    )
    assert await count(teams, ConversationRef) == 0


async def test_a_reinstall_is_stored_again_when_another_server_handled_the_uninstall(
    teams, aiohttp_client, council_engine
):
    """Each server remembers which references it has stored; an install always checks the
    database, so a reference removed through another server is never taken as still there."""
    from bot.app import create_app
    from bot.settings import Settings

    other = await aiohttp_client(create_app(Settings(), engine=council_engine, clock=lambda: NOW))
    await teams.install(AMINA)
    assert await teams.say(AMINA, "help") == 201
    removed = await other.post(
        "/api/messages", json=teams.activity(AMINA, "installationUpdate", action="remove")
    )
    assert removed.status in (200, 201)
    assert await count(teams, ConversationRef) == 0
    teams.connector.clear()
    await teams.install(AMINA)
    assert await teams.say(AMINA, "help") == 201
    assert await count(teams, ConversationRef) == 1
    welcome, _help = teams.connector.cards()
    assert "Hello Amina Hussain, I'm PerfBot" in card_text(welcome)


def welcomes_in(teams, conversation_id: str) -> list[str]:
    """What a person saw in one chat on installing: welcome cards and unknown-person answers."""
    calls = [c for c in teams.connector.sent() if c.conversation_id == conversation_id]
    cards = [card_text(c) for c in teams.connector.cards(calls)]
    texts = [c.body.get("text") or "" for c in calls]
    return [t for t in cards + texts if "I'm PerfBot" in t]


async def test_the_two_install_events_arriving_at_the_same_moment_welcome_once(teams):
    """Teams sends installationUpdate and conversationUpdate for one install, in no set order
    and often together; whichever stores the reference welcomes, the other stays quiet."""
    people = [AMINA, MARK, LUCY, GARETH, JANET, HELEN, STRANGER]
    for round_ in range(3):
        chats = {}
        for user in people:
            chats[user] = f"a:personal-{user.teams_id}-{unique()}"
        events = []
        for n, user in enumerate(people):
            installation, added = teams.install_events(user, conversation_id=chats[user])
            events += [installation, added] if (n + round_) % 2 else [added, installation]
        statuses = await asyncio.gather(*(teams.post(event) for event in events))
        assert set(statuses) <= {200, 201}
        for user in people:
            [welcome] = welcomes_in(teams, chats[user])
            expected = "I can't find you" if user is STRANGER else f"Hello {user.name}, I'm"
            assert expected in welcome
    assert "Sorry, something went wrong" not in "".join(teams.connector.texts())


@pytest.mark.parametrize(
    "council_engine", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_two_servers_each_given_one_install_event_at_the_same_moment_welcome_once(
    teams, aiohttp_client, council_engine
):
    """Behind a load balancer the two install events can reach two servers at once; the
    database decides which of them stored the reference, and only that one welcomes."""
    url = council_engine.url.render_as_string(hide_password=False)
    other = Teams(
        await aiohttp_client(create_app(Settings(database_url=url), clock=lambda: teams.now)),
        teams.connector,
    )
    people = [AMINA, MARK, LUCY, GARETH, JANET, HELEN, STRANGER]
    for round_ in range(3):
        for n, user in enumerate(people):
            chat = f"a:personal-{user.teams_id}-{unique()}"
            installation, added = teams.install_events(user, conversation_id=chat)
            first, second = (teams, other) if (n + round_) % 2 else (other, teams)
            statuses = await asyncio.gather(first.post(installation), second.post(added))
            assert set(statuses) <= {200, 201}
            [welcome] = welcomes_in(teams, chat)
            expected = "I can't find you" if user is STRANGER else f"Hello {user.name}, I'm"
            assert expected in welcome
    assert await count(teams, ConversationRef) == 3 * len(people)
    assert "Sorry, something went wrong" not in "".join(teams.connector.texts())


async def test_someone_perfbot_does_not_know_gets_a_polite_answer_and_the_team_is_told_once(teams):
    assert await teams.say(STRANGER, "my measures") == 201
    assert await teams.say(STRANGER, "hello?") == 201
    [first, second] = teams.connector.texts()
    assert "I can't find you in the list of measure owners" in first
    assert "Corporate Performance Team (performance.team@kingsmere.gov.uk)" in first
    assert first == second
    # one notification per admin, however often they try
    assert await count(teams, Notification, Notification.kind == "unknown-user") == 2


# ---- commands ---------------------------------------------------------------------------


async def test_my_measures_lists_what_is_owned_with_period_deadline_and_state(teams):
    assert await teams.say(AMINA, "  My   MEASURES ") == 201
    [card] = teams.connector.cards()
    text = card_text(card)
    assert "Amina Hussain: 3 measures, 2 returns waiting for a figure" in text
    assert "RB-01 · Council tax collected in year" in text
    assert "2026/27 M7 · due Fri 20 Nov · OVERDUE by 1 working day" in text
    assert "RB-06" in text
    # RB-06's Q2 figure came in the spreadsheet: the performance team's own, so approved.
    assert "2026/27 Q2 · due Wed 21 Oct · approved · 90.3% ✓ Good" in text
    assert "Submit RB-01" in text


async def test_a_delegate_sees_what_they_deputise_for(teams):
    assert await teams.say(LUCY, "my measures") == 201
    text = card_text(teams.connector.cards()[0])
    assert "RB-01" in text
    assert "RB-03" in text


async def test_the_return_card_shows_the_measure_target_and_last_four_periods(teams):
    _, card = await open_card(teams, AMINA, "rb-01")
    assert card["version"] == "1.2"
    text = card_text(card)
    assert "RB-01 · Council tax collected in year" in text
    assert "2026/27 M7 (01 Oct 2026 to 31 Oct 2026)" in text
    assert "Friday 20 November 2026 (overdue by 1 working day)" in text
    assert "66.3%" in text  # the profiled target for October (68% of 97.5%)
    assert "a percentage, higher is better" in text
    for period in ("2026/27 M3", "2026/27 M4", "2026/27 M5", "2026/27 M6"):
        assert period in text
    sealed = data(card)
    assert sealed.pop("sig").startswith("1.")  # sealed with the council's first card key
    assert sealed == {
        "verb": "submit_return",
        "code": "RB-01",
        "period": "2026/27 M7",
        "confirmed": "",
    }
    assert any(
        a["type"] == "Action.ShowCard" and a["title"] == "Not available yet"
        for a in card["actions"]
    )


async def test_status_is_for_escalation_owners_and_leadership(teams):
    assert await teams.say(AMINA, "status") == 201
    assert "status is for escalation owners and the Leadership Team" in teams.connector.texts()[0]
    teams.connector.clear()
    assert await teams.say(MARK, "STATUS") == 201
    text = card_text(teams.connector.cards()[0])
    assert "Revenues and Benefits —" in text
    assert "Planning and Regeneration" not in text
    teams.connector.clear()
    assert await teams.say(HELEN, "status") == 201
    text = card_text(teams.connector.cards()[0])
    assert "Planning and Regeneration —" in text
    assert "Revenues and Benefits —" in text


async def test_anything_else_gets_the_help_card_never_silence(teams):
    for said in ("what's my deadline?", "", "submit", "snooze RB-01"):
        teams.connector.clear()
        assert await teams.post(teams.activity(AMINA, text=said)) == 201
        [card] = teams.connector.cards()
        assert "Type one of these:" in card_text(card)
    assert "I didn't understand \u201csnooze RB-01\u201d." in card_text(card)


async def test_the_help_cards_examples_are_commands_that_work_for_the_person(teams):
    # Amina's first measure is RB-01, a monthly one: its example period is a month, and
    # typing the examples as the card shows them opens her card, never a refusal.
    teams.connector.clear()
    assert await teams.say(AMINA, "help") == 201
    [help_card] = teams.connector.cards()
    shown = card_text(help_card)
    assert "as in submit RB-01 2026/27 M7)" in shown
    for typed in ("submit RB-01", "submit RB-01 2026/27 M7"):
        assert typed in shown
        teams.connector.clear()
        assert await teams.say(AMINA, typed) == 201
        [card] = teams.connector.cards()
        assert "RB-01 · Council tax collected in year" in card_text(card), typed


async def test_snooze_keeps_reminders_away_but_never_past_the_deadline(teams):
    teams.now = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)  # October's returns due on 20 November
    assert await teams.say(GARETH, "snooze RB-03 until 2026-11-12") == 201
    assert await teams.say(GARETH, "Snooze rb-03 until 30/11/2026") == 201
    assert await teams.say(GARETH, "snooze RB-03 until 2026-11-01") == 201
    assert await teams.say(GARETH, "snooze RB-03 until someday") == 201
    assert await teams.say(GARETH, "snooze RB-01 until 2026-11-12") == 201
    first, second, third, fourth, fifth = teams.connector.texts()
    assert first == "OK: no reminders for RB-03 (2026/27 M7) until Thursday 12 November 2026."
    assert second == (
        "I can't snooze past the deadline, so reminders for RB-03 (2026/27 M7) will start again "
        "on the deadline, Friday 20 November 2026."
    )
    assert "01 November 2026 is not in the future" in third
    assert "'someday' is not a date: write it as 2025-07-18 or 18/07/2025" in fourth
    assert "not the owner or a delegate of RB-01" in fifth
    assert await count(teams, Snooze) == 1


async def test_an_overdue_return_cannot_be_snoozed(teams):
    assert await teams.say(GARETH, "snooze RB-03 until 2026-11-25") == 201
    assert teams.connector.texts() == [
        "RB-03's return for 2026/27 M7 was due on Friday 20 November 2026, so it can't be "
        "snoozed now. Send it with submit RB-03."
    ]
    assert await count(teams, Snooze) == 0


async def test_delegate_is_for_the_owner_or_an_admin(teams):
    assert await teams.say(AMINA, "delegate RB-02 to Lucy.Price@kingsmere.gov.uk") == 201
    assert await teams.say(AMINA, "delegate RB-02 to lucy.price@kingsmere.gov.uk") == 201
    assert await teams.say(LUCY, "delegate RB-01 to gareth.jones@kingsmere.gov.uk") == 201
    assert await teams.say(AMINA, "delegate RB-02 to nobody@kingsmere.gov.uk") == 201
    added, again, refused, unknown = teams.connector.texts()
    assert added.startswith("Lucy Price can now send RB-02's returns")
    assert again == "Lucy Price is already a delegate for RB-02."
    assert "Only the owner of RB-01 (Amina Hussain) or the performance team" in refused
    assert "nobody@kingsmere.gov.uk is not someone PerfBot knows" in unknown
    assert await count(teams, AuditEntry, AuditEntry.action == "add delegate") == 1
    lucy = select(Person.id).where(Person.email == LUCY.email).scalar_subquery()
    rb02 = select(Measure.id).where(Measure.code == "RB-02").scalar_subquery()
    assert (
        await count(teams, Delegate, Delegate.person_id == lucy, Delegate.measure_id == rb02) == 1
    )


# ---- returns ----------------------------------------------------------------------------


async def test_a_return_is_stored_rated_and_the_card_replaced_by_a_receipt(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    teams.connector.clear()
    typed = values(actual=" 66.5% ", commentary="Collection on profile after the October run.")
    assert await teams.submit(AMINA, card_id, {**data(card), **typed}) == 201
    [update] = teams.connector.updates()
    assert update.activity_id == card_id
    receipt = card_text(teams.connector.cards([update])[0])
    assert "Received: RB-01 · Council tax collected in year, 2026/27 M7" in receipt
    assert "66.5%  ✓ Good" in receipt
    assert "66.5% against a target of 66.3% is 0.3% better than target: Good." in receipt
    # RB-01 is a year-to-date figure: compared with October last year (66.9%), not September.
    assert "Since last period" not in receipt
    assert "↓ declining against October last year" in receipt
    assert "Nothing more is needed for this period" in receipt
    [stored] = await stored_returns(teams, "RB-01", "2026/27 M7")
    assert (str(stored.value), stored.version, stored.source) == ("66.5", 1, "teams")
    assert stored.commentary == "Collection on profile after the October run."


async def test_a_double_click_or_a_retried_request_stores_one_return(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    submit = {**data(card), **values(actual="66.5", commentary="On profile.")}
    assert await teams.submit(AMINA, card_id, submit) == 201
    assert await teams.submit(AMINA, card_id, submit) == 201
    assert len(await stored_returns(teams, "RB-01", "2026/27 M7")) == 1
    receipts = [card_text(c) for c in teams.connector.cards(teams.connector.updates())]
    assert "Already received" in receipts[-1]


async def test_a_correction_before_sign_off_adds_a_version(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    await teams.submit(AMINA, card_id, {**data(card), **values(actual="66.5", commentary="First.")})
    card_id2, card2 = await open_card(teams, AMINA, "RB-01")
    assert "66.5%: a new figure replaces it" in card_text(card2)
    await teams.submit(
        AMINA, card_id2, {**data(card2), **values(actual="66.8", commentary="Corrected.")}
    )
    versions = await stored_returns(teams, "RB-01", "2026/27 M7")
    assert [(str(v.value), v.version) for v in versions] == [("66.5", 1), ("66.8", 2)]
    receipt = card_text(teams.connector.cards(teams.connector.updates())[-1])
    assert "2, replacing 66.5%" in receipt


async def test_an_invalid_figure_keeps_what_was_typed_marks_the_problem_and_stores_nothing(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    for typed, problem in [
        ("lots", "'lots' is not a number"),
        ("NaN", "'NaN' is not a number"),
        ("Infinity", "'Infinity' is not a number"),
        ("101", "101% is not a percentage between 0 and 100"),
        ("-5", "-5% is not a percentage between 0 and 100"),
        ("", "Enter the figure for this period"),
    ]:
        teams.connector.clear()
        commentary = 'He said "fine" {braces} <script>alert(1)</script> 👍'
        assert (
            await teams.submit(
                AMINA, card_id, {**data(card), **values(actual=typed, commentary=commentary)}
            )
            == 201
        )
        [update] = teams.connector.updates()
        again = teams.connector.cards([update])[0]
        text = card_text(again)
        assert problem in text, typed
        inputs = {i["id"]: i.get("value") for i in _inputs(again)}
        assert inputs["actual"] == typed
        assert inputs["commentary"] == commentary
    assert await stored_returns(teams, "RB-01", "2026/27 M7") == []


def _inputs(card: dict) -> list[dict]:
    return [node for node in elements(card) if str(node.get("type", "")).startswith("Input.")]


async def test_commentary_is_required_and_an_off_track_figure_needs_an_action_and_a_date(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    await teams.submit(AMINA, card_id, {**data(card), **values(actual="66.5")})
    text = card_text(teams.connector.cards(teams.connector.updates())[-1])
    assert "Add a short commentary" in text

    teams.connector.clear()
    await teams.submit(
        AMINA, card_id, {**data(card), **values(actual="62.5", commentary="Slow month.")}
    )
    text = card_text(teams.connector.cards(teams.connector.updates())[-1])
    assert "62.5% against a target of 66.3% is 5.7% worse than target: Review." in text
    assert "say what action will bring it back on track" in text
    assert "say by when it should be back on track" in text
    assert await stored_returns(teams, "RB-01", "2026/27 M7") == []

    teams.connector.clear()
    complete = values(
        actual="62.5",
        commentary="Slow month.",
        action="Extra reminder letters.",
        action_due="2027-01-31",
    )
    await teams.submit(AMINA, card_id, {**data(card), **complete})
    receipt = card_text(teams.connector.cards(teams.connector.updates())[-1])
    assert "62.5%  ● Review" in receipt
    [stored] = await stored_returns(teams, "RB-01", "2026/27 M7")
    assert stored.remedial_action == "Extra reminder letters."
    assert stored.action_due.isoformat() == "2027-01-31"


async def test_an_off_track_figure_with_a_date_already_gone_is_refused_and_nothing_stored(
    teams,
):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    teams.connector.clear()
    gone = values(
        actual="62.5", commentary="Slow month.", action="Reminder letters.", action_due="2026-11-20"
    )
    await teams.submit(AMINA, card_id, {**data(card), **gone})
    text = card_text(teams.connector.cards(teams.connector.updates())[-1])
    assert (
        "Friday 20 November 2026 has passed: give the date it will be back on track, today or "
        "later." in text
    )
    assert "Reminder letters." in text  # what was typed is kept
    assert await stored_returns(teams, "RB-01", "2026/27 M7") == []


async def test_an_action_rating_is_escalated_to_the_escalation_owner_at_once(teams):
    await teams.install(MARK)
    card_id, card = await open_card(teams, AMINA, "RB-01")
    typed = values(
        actual="55", commentary="System outage.", action="Recovery plan.", action_due="2027-01-31"
    )
    await teams.submit(AMINA, card_id, {**data(card), **typed})
    receipt = card_text(teams.connector.cards(teams.connector.updates())[-1])
    assert "🚩 Action" in receipt
    assert "Mark Taylor is being sent an escalation with your commentary and action." in receipt
    assert await count(teams, Escalation) == 1
    assert (
        await count(
            teams, Notification, Notification.reason_key == "escalation:RB-01:2026/27 M7:off-track"
        )
        == 1
    )


async def test_a_figure_far_from_history_is_queried_before_it_is_stored(teams):
    card_id, card = await open_card(teams, GARETH, "RB-03")
    typed = values(actual="180", commentary="Usual month.")
    await teams.submit(GARETH, card_id, {**data(card), **typed})
    query = teams.connector.cards(teams.connector.updates())[-1]
    text = card_text(query)
    assert "Did you mean 18.0 days? You entered 180" in text
    assert await stored_returns(teams, "RB-03", "2026/27 M7") == []
    titles = [a["title"] for a in query["actions"]]
    assert titles[:2] == ["Yes, 180 is right", "Use 18.0 days"]

    # choosing the suggestion stores 18
    use = next(a["data"] for a in query["actions"] if a["title"] == "Use 18.0 days")
    await teams.submit(GARETH, card_id, {**use, **typed})
    [stored] = await stored_returns(teams, "RB-03", "2026/27 M7")
    assert str(stored.value) == "18.0"


async def test_confirming_an_unusual_figure_stores_it(teams):
    card_id, card = await open_card(teams, GARETH, "RB-03")
    typed = values(
        actual="180",
        commentary="A real backlog after the system failure.",
        action="Agency staff.",
        action_due="2027-02-28",
    )
    await teams.submit(GARETH, card_id, {**data(card), **typed})
    query = teams.connector.cards(teams.connector.updates())[-1]
    await teams.submit(GARETH, card_id, {**data(query, "Yes, 180 is right"), **typed})
    [stored] = await stored_returns(teams, "RB-03", "2026/27 M7")
    assert str(stored.value) == "180.0"


async def test_not_available_yet_records_the_reason_and_says_when_it_will_ask_again(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    show = next(a for a in card["actions"] if a["type"] == "Action.ShowCard")
    na = show["card"]["actions"][0]["data"]
    await teams.submit(AMINA, card_id, {**na, **values(reason="")})
    assert "Say why the figure is not available yet" in card_text(
        teams.connector.cards(teams.connector.updates())[-1]
    )
    await teams.submit(
        AMINA, card_id, {**na, **values(reason="The billing system report runs on the 25th.")}
    )
    notice = card_text(teams.connector.cards(teams.connector.updates())[-1])
    assert "Noted: RB-01 for 2026/27 M7 is not available yet" in notice
    assert "I'll ask you again on Wednesday 25 November" in notice  # the +3 working day chaser
    [stored] = await stored_returns(teams, "RB-01", "2026/27 M7")
    assert stored.value is None
    assert stored.not_available_reason.startswith("The billing system")
    teams.connector.clear()
    await teams.say(AMINA, "my measures")
    assert "not available yet" in card_text(teams.connector.cards()[0])


async def test_only_the_owner_a_delegate_or_an_admin_may_submit_and_tampering_is_refused_and_audited(
    teams,
):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    typed = values(actual="66.5", commentary="Fine.")
    # Gareth owns neither RB-01 nor RB-02, so a card edited to name them is refused
    await teams.submit(GARETH, card_id, {**data(card), **typed})
    await teams.submit(AMINA, card_id, {**data(card), "code": "RB-03", **typed})
    await teams.submit(AMINA, card_id, {**data(card), "period": "2030/31 M1", **typed})
    await teams.submit(AMINA, card_id, {**data(card), "period": "2026/27 Q2", **typed})
    await teams.submit(AMINA, card_id, {**data(card), "code": "ZZ-99", **typed})
    texts = teams.connector.texts()
    assert "Only the owner of RB-01 (Amina Hussain)" in texts[0]
    # A card whose measure or period was changed is refused before anything is read.
    for text in texts[1:]:
        assert text.startswith("That card has been changed since PerfBot sent it")
        assert "nothing was saved" in text
    assert len(texts) == 5
    assert await stored_returns(teams, "RB-01", "2026/27 M7") == []
    assert await count(teams, AuditEntry, AuditEntry.action == "refused") == 1
    assert await count(teams, AuditEntry, AuditEntry.action == "refused altered card") == 4

    # the performance team may submit for anyone
    from tests.bot.conftest import User

    rachel = User("29:rachel", "Rachel Singh", "rachel.singh@kingsmere.gov.uk", "aad-rachel")
    teams.connector.add_member(rachel.teams_id, rachel.name, rachel.email, rachel.aad)
    await teams.submit(rachel, card_id, {**data(card), **typed})
    assert len(await stored_returns(teams, "RB-01", "2026/27 M7")) == 1


async def test_a_signed_off_period_cannot_be_changed_from_a_card(teams):
    from bot.app import SESSIONS

    card_id, card = await open_card(teams, AMINA, "RB-01")  # then the period is signed off
    async with teams.client.app[SESSIONS]() as session, session.begin():
        session.add(
            PeriodLock(
                period="2026/27 M7", locked_at=NOW, locked_by="performance.team@kingsmere.gov.uk"
            )
        )
    teams.connector.clear()
    await teams.submit(AMINA, card_id, {**data(card), **values(actual="66.5", commentary="x")})
    assert (
        "2026/27 M7 was signed off by performance.team@kingsmere.gov.uk"
        in teams.connector.texts()[0]
    )
    assert await stored_returns(teams, "RB-01", "2026/27 M7") == []


async def test_a_key_action_gets_its_own_card_with_status_and_a_revised_date_when_slipping(teams):
    card_id, card = await open_card(teams, JANET, "KA-05")
    text = card_text(card)
    assert "KA-05 · Build 100 new council homes" in text
    assert "Complete by" in text
    assert "Wednesday 31 March 2027" in text
    choices = next(i for i in _inputs(card) if i["type"] == "Input.ChoiceSet")["choices"]
    assert [c["value"] for c in choices] == [
        "complete, exceeding expectations",
        "complete",
        "on track, exceeding expectations",
        "on track",
        "some risk",
        "unlikely",
    ]
    submit = data(card)
    await teams.submit(
        JANET, card_id, {**submit, **values(commentary="Contractor late."), "status": "some risk"}
    )
    assert "It is slipping: give the revised date." in card_text(
        teams.connector.cards(teams.connector.updates())[-1]
    )
    await teams.submit(
        JANET,
        card_id,
        {
            **submit,
            **values(commentary="Contractor late.", action_due="2027-06-30"),
            "status": "some risk",
        },
    )
    receipt = card_text(teams.connector.cards(teams.connector.updates())[-1])
    assert "Reported as some risk to timetable or outcomes: Review." in receipt
    versions = await stored_returns(teams, "KA-05", "2026/27 Q2")
    assert [(v.version, v.status) for v in versions] == [(1, "on track"), (2, "some risk")]
    assert versions[-1].action_due.isoformat() == "2027-06-30"


async def test_a_card_that_is_not_perfbots_gets_a_clear_answer(teams):
    assert (
        await teams.post(teams.activity(AMINA, value={"verb": "launch_missiles"}, replyToId="x"))
        == 201
    )
    assert "not one PerfBot recognises" in teams.connector.texts()[0]
    # A value that is not an object is no card's: refused at the edge (tests/bot/test_edge.py).
    assert await teams.post(teams.activity(AMINA, value=["not", "a", "dict"], replyToId="x")) == 400
    assert len(teams.connector.texts()) == 1


async def test_a_double_click_arriving_at_the_same_moment_stores_one_return(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    submit = {**data(card), **values(actual="66.5", commentary="On profile.")}
    statuses = await asyncio.gather(*(teams.submit(AMINA, card_id, submit) for _ in range(4)))
    assert statuses == [201, 201, 201, 201]
    assert len(await stored_returns(teams, "RB-01", "2026/27 M7")) == 1
    receipts = [card_text(c) for c in teams.connector.cards(teams.connector.updates())]
    assert len(receipts) == 4
    assert sum("Already received" in r for r in receipts) == 3


async def test_installing_in_a_team_stores_the_channel_and_says_what_will_be_posted_there(teams):
    channel = "19:performance@thread.tacv2"
    team = {"id": "19:leadership@thread.tacv2", "name": "Leadership Team", "aadGroupId": "g-1"}
    install = teams.activity(
        HELEN,
        "conversationUpdate",
        conversation_id=channel,
        membersAdded=[{"id": "28:perfbot"}],
        channelData={
            "tenant": {"id": "tenant-1"},
            "team": team,
            "channel": {"id": channel},
            "eventType": "teamMemberAdded",
        },
    )
    install["conversation"] = {
        "isGroup": True,
        "conversationType": "channel",
        "id": channel,
        "tenantId": "tenant-1",
    }
    assert await teams.post(install) in (200, 201)
    [notice] = teams.connector.cards()
    shown = card_text(notice)
    assert "PerfBot is installed in this team" in shown
    # Nothing is promised here until the performance team chooses a channel for the summary.
    assert "set leadership channel" in shown
    assert "until then nothing is posted here" in shown
    from bot.app import SESSIONS

    async with teams.client.app[SESSIONS]() as session:
        ref = await session.scalar(select(ConversationRef))
    assert (ref.scope, ref.team_id, ref.person_id) == ("channel", team["id"], None)


async def test_i_will_ask_you_again_follows_the_councils_own_reminder_days(
    aiohttp_client, council_engine, connector
):
    # Thursday 5 November 2026: October's returns (2026/27 M7) are due on Friday 20 November.
    settings = Settings.from_env({"PERFBOT_REMINDER_DAYS": "10,2"})
    now = datetime(2026, 11, 5, 10, 0, tzinfo=UTC)
    app = create_app(settings, engine=council_engine, clock=lambda: now)
    teams = Teams(await aiohttp_client(app), connector)
    teams.now = now
    card_id, card = await open_card(teams, AMINA, "RB-01")
    show = next(a for a in card["actions"] if a["type"] == "Action.ShowCard")
    na = show["card"]["actions"][0]["data"]
    await teams.submit(AMINA, card_id, {**na, **values(reason="The report runs late.")})
    notice = card_text(teams.connector.cards(teams.connector.updates())[-1])
    # Ten working days before the deadline, not the five of PerfBot's defaults.
    assert "I'll ask you again on Friday 6 November" in notice


async def test_the_receipt_says_when_the_escalation_owner_cannot_be_reached_and_who_was_told(
    teams,
):
    from bot.app import SESSIONS

    # Mark has not installed PerfBot; Rachel Singh of the performance team has been seen in
    # Teams (so a chat can be opened with her), the team's shared account has not.
    async with teams.client.app[SESSIONS]() as session, session.begin():
        rachel = await session.scalar(select(Person).where(Person.name == "Rachel Singh"))
        rachel.teams_user_id = "29:rachel"
    card_id, card = await open_card(teams, AMINA, "RB-01")
    typed = values(actual="55", commentary="Outage.", action="Plan.", action_due="2027-01-31")
    await teams.submit(AMINA, card_id, {**data(card), **typed})
    receipt = card_text(teams.connector.cards(teams.connector.updates())[-1])
    assert "it is escalated to Mark Taylor, but PerfBot cannot reach Mark Taylor yet" in receipt
    # Queued for her, not yet sent: the receipt promises no more than that.
    assert "the performance team (Rachel Singh) is being sent it instead" in receipt
    assert "has been sent" not in receipt


async def test_the_receipt_asks_the_owner_to_tell_them_when_nobody_can_be_reached(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")  # nobody else has PerfBot yet
    typed = values(actual="55", commentary="Outage.", action="Plan.", action_due="2027-01-31")
    await teams.submit(AMINA, card_id, {**data(card), **typed})
    receipt = card_text(teams.connector.cards(teams.connector.updates())[-1])
    assert (
        "PerfBot cannot reach Mark Taylor (PerfBot has not been installed for them in Teams) "
        "nor anyone in the performance team (Corporate Performance Team, Rachel Singh): please "
        "tell Mark Taylor yourself." in receipt
    )
    assert "sent it" not in receipt
