"""Where the weekly summary goes, from the command line: `perfbot leadership show`,
`set-channel --team --channel` (by id or name, as PerfBot stored them from Teams) and
`clear-channel`, with their refusals; and `perfbot jobs run weekly-summary --now`."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from domain import db
from domain.model import ConversationRef, Notification
from tests.integration.test_cli import fails_clearly, run

TEAM = "19:cmt@thread.tacv2"
CHANNEL = "19:leadership@thread.tacv2"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prepared")
    assert run(folder, "db", "upgrade").returncode == 0
    loaded = run(folder, "sample", "load", "--if-empty", "--as-of", "2026-11-23")
    assert loaded.returncode == 0, loaded.stderr
    return folder / "perfbot.db"


@pytest.fixture
def council(prepared: Path, tmp_path: Path) -> Path:
    shutil.copy(prepared, tmp_path / "perfbot.db")
    return tmp_path


def installed_in_a_team(folder: Path) -> None:
    """PerfBot installed in the Corporate Management Team (its General channel), and seen in
    its Leadership channel, as the Teams handler stores them."""

    async def store() -> None:
        engine = db.create_engine(f"sqlite+aiosqlite:///{folder / 'perfbot.db'}")
        now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
        async with db.session_factory(engine)() as session, session.begin():
            for conversation_id, name in ((TEAM, None), (CHANNEL, "Leadership")):
                names = {"team": "Corporate Management Team"} | ({"channel": name} if name else {})
                session.add(
                    ConversationRef(
                        conversation_id=conversation_id,
                        scope="channel",
                        tenant_id="tenant-1",
                        team_id=TEAM,
                        service_url="https://smba.example/",
                        bot_id="28:perfbot",
                        reference={"conversation": {"id": conversation_id}, "names": names},
                        updated_at=now,
                    )
                )
        await engine.dispose()

    asyncio.run(store())


def test_show_with_no_channel_names_the_leadership_team_and_when_it_goes(council):
    # This week's summary has not gone (no server ran on Monday): the next daily run sends it.
    shown = run(council, "leadership", "show", "--now", "2026-11-25T12:00")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "No channel is set: it goes to each of the Leadership Team in person: David Okafor, "
        "Helen Ashworth, Sarah Lindqvist.",
        "  The performance team is told each time; to post it in a channel, type set leadership "
        "channel there in Teams, or run perfbot leadership set-channel.",
        "  Next: Thursday 26 November 2026 at 09:00: this week's, for the week of Monday 23 "
        "November 2026, with the next daily run (every Monday at 09:00, Europe/London; a bank "
        "holiday or closure day moves it to the next working day).",
    ]
    # Once this week's is queued, the next is next Monday's.
    assert (
        run(council, "jobs", "run", "weekly-summary", "--now", "2026-11-25T12:00").returncode == 0
    )
    again = run(council, "leadership", "show", "--now", "2026-11-25T12:00")
    assert again.stdout.splitlines()[2] == (
        "  Next: Monday 30 November 2026 at 09:00 (every Monday at 09:00, Europe/London; a bank "
        "holiday or closure day moves it to the next working day)."
    )


def test_set_channel_by_name_then_show_then_clear(council):
    installed_in_a_team(council)
    chosen = run(
        council, "leadership", "set-channel", "--team", "Corporate Management Team",
        "--channel", "leadership", "--by", "rachel.singh@kingsmere.gov.uk",
    )  # fmt: skip
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout.splitlines()[0] == (
        f"The weekly summary will be posted in the channel Leadership ({CHANNEL}) of the team "
        f"Corporate Management Team ({TEAM}) from now on."
    )
    shown = run(council, "leadership", "show", "--now", "2026-08-28T12:00")
    lines = shown.stdout.splitlines()
    assert lines[0] == (
        f"The weekly summary goes to the channel Leadership ({CHANNEL}) of the team Corporate "
        f"Management Team ({TEAM})."
    )
    assert lines[1].startswith("  Set by rachel.singh@kingsmere.gov.uk on ")
    assert lines[2].startswith("  Next: Tuesday 1 September 2026 at 09:00")  # bank holiday Monday
    # By id, the General channel (whose id is the team's).
    by_id = run(council, "leadership", "set-channel", "--team", TEAM, "--channel", TEAM)
    assert "the channel General" in by_id.stdout
    cleared = run(council, "leadership", "clear-channel")
    assert cleared.returncode == 0
    assert cleared.stdout.startswith("Cleared: the weekly summary no longer goes to the channel")
    assert "No channel is set" in run(council, "leadership", "show").stdout
    again = run(council, "leadership", "clear-channel")
    assert again.stdout.startswith("No channel was set")


def test_set_channel_refuses_a_team_or_channel_perfbot_does_not_know(council):
    fails_clearly(
        run(council, "leadership", "set-channel", "--team", "CMT", "--channel", "General"),
        "PerfBot has not been installed in any team yet",
    )
    installed_in_a_team(council)
    fails_clearly(
        run(council, "leadership", "set-channel", "--team", "Finance", "--channel", "General"),
        "PerfBot was never installed in a team 'Finance'. The teams it knows: Corporate "
        f"Management Team ({TEAM}).",
    )
    fails_clearly(
        run(council, "leadership", "set-channel", "--team", TEAM, "--channel", "Random"),
        "PerfBot knows no channel 'Random' in Corporate Management Team",
        f"General ({TEAM}); Leadership ({CHANNEL})",
    )
    assert "No channel is set" in run(council, "leadership", "show").stdout


def test_jobs_run_weekly_summary_sends_this_weeks_on_demand_once(council):
    installed_in_a_team(council)
    run(council, "leadership", "set-channel", "--team", TEAM, "--channel", "Leadership")
    wednesday = run(council, "jobs", "run", "weekly-summary", "--now", "2026-12-02T15:00")
    assert wednesday.returncode == 0, wednesday.stderr
    assert wednesday.stdout.splitlines() == [
        "weekly-summary at Wed 02 Dec 2026 15:00: 1 queued",
        f"  weekly-summary:{CHANNEL}:2026-11-30",
    ]
    again = run(council, "jobs", "run", "weekly-summary", "--now", "2026-12-02T16:00")
    assert "0 queued" in again.stdout
    assert "skipped 1: this week's summary was queued before" in again.stdout

    async def rows() -> list[str]:
        engine = db.create_engine(f"sqlite+aiosqlite:///{council / 'perfbot.db'}")
        async with db.session_factory(engine)() as session:
            found = await session.scalars(
                select(Notification.reason_key).where(Notification.kind == "weekly-summary")
            )
            keys = list(found)
        await engine.dispose()
        return keys

    assert asyncio.run(rows()) == [f"weekly-summary:{CHANNEL}:2026-11-30"]


def test_jobs_list_shows_when_the_next_summary_goes(council):
    listed = run(council, "jobs", "list", "--now", "2026-08-28T12:00")
    [line] = [x for x in listed.stdout.splitlines() if x.startswith("weekly-summary")]
    assert "next Tue 01 Sep 2026 09:00 BST" in line


def test_a_bad_summary_setting_is_refused_with_how_to_write_it(council):
    fails_clearly(
        run(council, "jobs", "list", env={"PERFBOT_SUMMARY_TIME": "9am"}),
        "PERFBOT_SUMMARY_TIME '9am' is not a time of day: write it as HH:MM",
    )
