"""The README's walkthrough, as a newcomer does it after `make run`, on several days of the
year: the sample council is generated for the day it is loaded, so on any day Amina (the
Playground's user) is reminded of a return due on the next working day, has one overdue,
and the figure the README suggests rates Good against its target."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from bot.app import ADAPTER, SESSIONS, create_app
from bot.delivery import Dispatcher
from bot.loopback import card_text
from bot.settings import Settings
from domain import db
from domain.dates import LONDON, long_day
from domain.importing import import_workbook
from domain.reminders import SendWindow, last_working_morning
from domain.reporting import load_calendar
from domain.uow import UnitOfWork
from domain.workbook import read_sheets
from sample import generate
from scheduler.jobs import JOBS, JobContext
from tests.bot.conftest import Teams, User

AMINA = User(
    "29:amina-hussain",
    "Amina Hussain",
    "amina.hussain@kingsmere.gov.uk",
    "a1a1a1a1-0000-4000-8000-000000000001",
)
README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
FIGURE = "91%"  # the figure the README asks for


def test_the_readme_gives_the_figure_and_the_command_this_test_uses():
    assert f"enter `{FIGURE}`" in README
    assert ".venv/bin/perfbot jobs run reminders --last-morning" in README


@pytest.mark.parametrize(
    ("day", "hour"),
    [
        (date(2026, 11, 30), 11),  # a Monday
        (date(2026, 12, 1), 11),  # the 1st of a month
        (date(2026, 12, 1), 8),  # ... before the 09:00 run
        (date(2026, 12, 25), 11),  # a bank holiday (and a council closure day)
        (date(2027, 3, 31), 11),  # the last day of the financial year
        (date(2027, 4, 1), 11),  # the first day of the next
        (date(2027, 5, 1), 11),  # a Saturday before a bank holiday Monday
    ],
    ids=lambda v: str(v) if isinstance(v, date) else f"{v:02}:00",
)
async def test_the_walkthrough_works_on(day, hour, aiohttp_client, connector, database_url):
    now = datetime.combine(day, time(hour, 0), tzinfo=LONDON).astimezone(UTC)
    engine = db.create_engine(database_url)  # a SQLite file, and PostgreSQL when set
    await db.upgrade(engine)
    with tempfile.TemporaryDirectory() as folder:  # what `perfbot sample load` does
        generate.write(Path(folder), generate.build(day, demo=True))
        async with db.session_factory(engine)() as session, session.begin():
            await import_workbook(session, read_sheets(Path(folder)), now=now)
        async with db.session_factory(engine)() as session, session.begin():
            assert await generate.sign_off(session, day, now)  # its history signed off
    connector.add_member(AMINA.teams_id, AMINA.name, AMINA.email, AMINA.aad)
    settings = Settings(send_window=SendWindow.parse("always"))  # as `make run` sets it
    app = create_app(settings, engine=engine, clock=lambda: now)
    teams = Teams(await aiohttp_client(app), connector)
    teams.now = now
    uow = UnitOfWork(app[SESSIONS])
    context = JobContext(uow, settings.timetable, settings.policy)
    # `perfbot serve` catches up at start; the README's command runs the last working morning.
    await JOBS["reminders"].run(context, now)
    async with uow() as tx:
        morning = last_working_morning(now, await load_calendar(tx))
    await JOBS["reminders"].run(context, morning)
    await teams.install(AMINA)  # opening the Playground's page installs PerfBot for Amina
    dispatcher = Dispatcher(settings, app[SESSIONS], app[ADAPTER], lambda: now)
    while (await dispatcher.run_once()).sent:
        pass

    reminders = [c for c in connector.sent() if (c.body.get("text") or "").startswith("Reminder:")]
    assert len(reminders) == 1, [c.body.get("text") for c in connector.sent()]
    text = reminders[0].body["text"]
    assert text.startswith("Reminder: RB-06 Council Tax Support claims decided within 14 days")
    async with uow() as tx:
        calendar = await load_calendar(tx)
    deadline = calendar.add_working_days(generate.last_working_day(day, calendar), 1)
    assert f" is due on {long_day(deadline, year=False)}." in text  # the next working day
    [card] = connector.cards([reminders[0]])
    shown = card_text(card)
    assert "overdue" not in shown.lower()
    assert long_day(deadline) in shown

    connector.clear()
    assert await teams.say(AMINA, "my measures") == 201
    listing = card_text(connector.cards()[-1])
    assert "RB-02 · Business rates (NNDR) collected in year" in listing
    overdue = [line for line in listing.splitlines() if "OVERDUE" in line]
    assert overdue
    assert all("working day" in line for line in overdue)
    assert "Submit RB-02" in listing
    assert "Submit RB-01" in listing  # last month's council tax return is open
    assert "Submit RB-06" in listing

    submit = next(a for a in card["actions"] if a.get("title") == "Submit")["data"]
    typed = {
        "actual": FIGURE,
        "commentary": "On track.",
        "action": "",
        "action_due": "",
        "reason": "",
    }
    assert await teams.submit(AMINA, "reminder-card", {**submit, **typed}) == 201
    receipt = card_text(connector.cards(connector.updates())[-1])
    assert "Received: RB-06" in receipt
    assert "✓ Good" in receipt
    await engine.dispose()
