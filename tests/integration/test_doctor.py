"""`perfbot doctor`, run as a council's IT team runs it, on a real SQLite file holding the
sample council: one line for each thing right or to fix, and exit status 1 while anything
must be fixed."""

from __future__ import annotations

import asyncio
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from domain import db
from domain.model import ConversationRef, LeadershipChannel, Person
from tests.integration.test_cli import run

MAKE_RUN = {"PERFBOT_SEND_HOURS": "always"}  # what `make run` sets for its demo
APP_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
TENANT = "0d9e8f7a-6b5c-4d3e-9f2a-1b0c9d8e7f6a"
REAL_TENANT = {
    "MicrosoftAppId": APP_ID,
    "MicrosoftAppPassword": "Qx8Q~not.a.real.secret~0123456789abcdefgh",
    "MicrosoftAppType": "SingleTenant",
    "MicrosoftAppTenantId": TENANT,
    "PERFBOT_PUBLIC_URL": "https://perfbot.kingsmere.gov.uk",
    "PERFBOT_COUNCIL_NAME": "Kingsmere Borough Council",
    "PERFBOT_SUPPORT_URL": "https://www.kingsmere.gov.uk/it-help",
    "PERFBOT_PRIVACY_URL": "https://www.kingsmere.gov.uk/privacy/perfbot",
    "PERFBOT_TERMS_URL": "https://www.kingsmere.gov.uk/terms/perfbot",
}


def doctor(folder: Path, env: dict[str, str]) -> tuple[int, list[str]]:
    result = run(folder, "doctor", env=env)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr == ""
    return result.returncode, result.stdout.splitlines()


def line(lines: list[str], start: str) -> str:
    """The one line that starts so (status and words)."""
    [found] = [text for text in lines if text.startswith(start)]
    return found


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make run`'s setup: the schema, and the sample council (as of the fixture's day)."""
    folder = tmp_path_factory.mktemp("prepared")
    assert run(folder, "db", "upgrade").returncode == 0
    loaded = run(folder, "sample", "load", "--if-empty", "--as-of", "2026-11-23")
    assert loaded.returncode == 0, loaded.stderr
    return folder / "perfbot.db"


@pytest.fixture
def council(prepared: Path, tmp_path: Path) -> Path:
    shutil.copy(prepared, tmp_path / "perfbot.db")
    return tmp_path


def test_on_make_runs_setup_it_says_what_a_real_tenant_would_still_need(council):
    status, lines = doctor(council, MAKE_RUN)
    assert status == 1
    assert line(lines, "fix  MicrosoftAppId is not set: PerfBot accepts unauthenticated local")
    assert line(lines, "fix  MicrosoftAppPassword is not set: a real tenant needs")
    assert line(lines, "fix  MicrosoftAppTenantId is not set")
    assert line(lines, "fix  PERFBOT_SEND_HOURS is always: messages may go at night")
    assert line(
        lines,
        "ok   The database sqlite+aiosqlite:///perfbot.db is reachable and its schema is current",
    )
    assert line(lines, "ok   41 measures and 28 people.")
    assert line(lines, "note 0 of 28 people have installed PerfBot")
    reach = line(
        lines, "fix  25 of 25 owners, delegates and escalation owners cannot be reached yet"
    )
    assert "Teams app setup policy" in reach
    assert line(
        lines,
        "note No leadership channel is set: the weekly summary goes to each of the Leadership Team in person (3 people)",
    )
    assert line(lines, "fix  PERFBOT_PUBLIC_URL is not set")
    assert line(lines, "fix  perfbot package also needs PERFBOT_COUNCIL_NAME, PERFBOT_SUPPORT_URL")
    assert lines[-1] == (
        "7 things to fix before PerfBot is ready for a real tenant (docs/deploy.md says how)."
    )
    # Each line is one status and one thing.
    assert all(text[:5] in ("ok   ", "fix  ", "note ") for text in lines[:-1])


async def _installed_everywhere(path: Path) -> None:
    """What a Teams app setup policy leaves behind: a personal chat with every person, and the
    Leadership Team's channel chosen."""
    engine = db.create_engine(f"sqlite:///{path}")
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    try:
        async with db.session_factory(engine)() as session, session.begin():
            for person in await session.scalars(select(Person)):
                session.add(
                    ConversationRef(
                        conversation_id=f"a:chat-{person.id}",
                        scope="personal",
                        person_id=person.id,
                        tenant_id=TENANT,
                        user_id=f"29:user-{person.id}",
                        service_url="https://smba.trafficmanager.net/uk/",
                        bot_id=f"28:{APP_ID}",
                        reference={},
                        updated_at=now,
                    )
                )
            session.add(
                LeadershipChannel(
                    conversation_id="19:leadership@thread.tacv2",
                    team_id="19:cmt@thread.tacv2",
                    team_name="Corporate Management Team",
                    channel_name="Leadership",
                    set_by="rachel.singh@kingsmere.gov.uk",
                    set_at=now,
                )
            )
    finally:
        await engine.dispose()


async def _blocked(path: Path, email: str) -> None:
    engine = db.create_engine(f"sqlite:///{path}")
    try:
        async with db.session_factory(engine)() as session, session.begin():
            person = await session.scalar(select(Person).where(Person.email == email))
            person.unreachable_reason = "Teams answered 403 ConversationBlockedByUser"
            person.unreachable_since = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    finally:
        await engine.dispose()


def test_a_tenant_set_up_as_the_guide_says_is_ready_and_exits_0(council):
    asyncio.run(_installed_everywhere(council / "perfbot.db"))
    status, lines = doctor(council, REAL_TENANT)
    assert [text for text in lines if text.startswith("fix")] == []
    assert status == 0
    assert line(
        lines, f"ok   MicrosoftAppId {APP_ID}: every request must carry a Bot Framework token"
    )
    assert line(lines, "ok   MicrosoftAppPassword is set (not shown).")
    assert "Qx8Q" not in "\n".join(lines)  # the secret is never printed
    assert line(lines, f"ok   MicrosoftAppTenantId {TENANT}")
    assert line(lines, "ok   Messages go on working days between 08:00 and 18:00 (Europe/London)")
    assert line(lines, "ok   28 of 28 people have installed PerfBot")
    assert line(
        lines, "ok   Every one of the 25 owners, delegates and escalation owners can be reached."
    )
    assert line(
        lines,
        "ok   The weekly summary goes to the channel Leadership of the team Corporate Management Team.",
    )
    assert line(
        lines,
        "ok   PERFBOT_PUBLIC_URL https://perfbot.kingsmere.gov.uk: the Azure Bot's messaging endpoint must be https://perfbot.kingsmere.gov.uk/api/messages.",
    )
    assert line(lines, "ok   perfbot package has every setting it needs.")
    assert lines[-1] == "Ready: nothing to fix."


def test_someone_teams_refused_is_counted_and_pointed_to(council):
    asyncio.run(_installed_everywhere(council / "perfbot.db"))
    asyncio.run(_blocked(council / "perfbot.db", "amina.hussain@kingsmere.gov.uk"))
    status, lines = doctor(council, REAL_TENANT)
    assert status == 1
    assert line(
        lines,
        "fix  1 of 25 owners, delegates and escalation owners cannot be reached yet: Teams refused 1 (perfbot people --unreachable says why).",
    )


def test_a_database_behind_its_schema_is_told_to_run_db_upgrade_and_then_is_current(tmp_path):
    async def older() -> None:
        engine = db.create_engine(f"sqlite:///{tmp_path / 'perfbot.db'}")
        try:
            await db.upgrade(engine, "0006")
        finally:
            await engine.dispose()

    asyncio.run(older())
    status, lines = doctor(tmp_path, REAL_TENANT)
    assert status == 1
    assert line(
        lines,
        "fix  The database sqlite+aiosqlite:///perfbot.db is at schema 0006; this PerfBot's is "
        f"{db.head_revision()}: run perfbot db upgrade (it keeps the data).",
    )
    assert run(tmp_path, "db", "upgrade").returncode == 0
    status, lines = doctor(tmp_path, REAL_TENANT)
    assert line(
        lines,
        "ok   The database sqlite+aiosqlite:///perfbot.db is reachable and its schema is current "
        f"({db.head_revision()}).",
    )
    # Current but empty: the council's workbook is next.
    assert line(
        lines, "fix  The database holds no measures or people yet: import the council's workbook"
    )


def test_a_database_file_that_does_not_exist_is_not_made_by_looking_for_it(tmp_path):
    status, lines = doctor(tmp_path, REAL_TENANT)
    assert status == 1
    assert line(
        lines,
        f"fix  The database file {tmp_path / 'perfbot.db'} does not exist (PERFBOT_DATABASE_URL "
        "is sqlite+aiosqlite:///perfbot.db): run perfbot db upgrade to create it",
    )
    assert not (tmp_path / "perfbot.db").exists()


def test_a_database_with_no_tables_is_told_to_run_db_upgrade(tmp_path):
    (tmp_path / "perfbot.db").touch()  # an empty SQLite file
    status, lines = doctor(tmp_path, REAL_TENANT)
    assert status == 1
    assert line(
        lines,
        "fix  The database sqlite+aiosqlite:///perfbot.db has no PerfBot tables yet: run perfbot db upgrade.",
    )


def test_a_database_server_that_is_not_there_is_reported_at_once(tmp_path):
    started = time.monotonic()
    status, lines = doctor(
        tmp_path,
        {**REAL_TENANT, "PERFBOT_DATABASE_URL": "postgresql://perfbot@127.0.0.1:1/perfbot"},
    )
    assert time.monotonic() - started < 30
    assert status == 1
    found = line(
        lines,
        "fix  The database postgresql+asyncpg://perfbot@127.0.0.1:1/perfbot cannot be reached",
    )
    assert found.endswith("check PERFBOT_DATABASE_URL and that the database server is running.")
    # The rest is still checked.
    assert line(lines, "ok   perfbot package has every setting it needs.")


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("MicrosoftAppId", "perfbot", "fix  MicrosoftAppId 'perfbot' is not a GUID"),
        (
            "MicrosoftAppPassword",
            "9b1f0e2d-3c4a-4b5e-8f6a-7d8c9e0f1a2b",
            "fix  MicrosoftAppPassword looks like a GUID: that is the client secret's ID; set its Value",
        ),
        (
            "MicrosoftAppTenantId",
            "kingsmere.gov.uk",
            "fix  MicrosoftAppTenantId 'kingsmere.gov.uk' is not a GUID",
        ),
        (
            "MicrosoftAppType",
            "SingleTenent",
            "fix  MicrosoftAppType 'SingleTenent' is not SingleTenant",
        ),
        (
            "PERFBOT_PUBLIC_URL",
            "http://perfbot.kingsmere.gov.uk",
            "fix  PERFBOT_PUBLIC_URL 'http://perfbot.kingsmere.gov.uk' is not an https address",
        ),
        (
            "PERFBOT_TIMEZONE",
            "Mars/Olympus",
            "fix  PERFBOT_TIMEZONE: 'Mars/Olympus' is not a time zone",
        ),
        ("PERFBOT_LINK_SECRET", "short", "fix  PERFBOT_LINK_SECRET is 5 characters"),
        (
            "PERFBOT_SEND_HOURS",
            "18:00-08:00",
            "fix  PERFBOT_SEND_HOURS: '18:00-08:00' must start before it ends",
        ),
    ],
)
def test_a_wrong_setting_gets_its_own_line_and_the_rest_is_still_checked(
    council, setting, value, expected
):
    status, lines = doctor(council, {**REAL_TENANT, setting: value})
    assert status == 1
    assert line(lines, expected)
    assert line(lines, "ok   41 measures and 28 people.")


def test_a_managed_identity_needs_no_secret_and_a_multi_tenant_bot_is_pointed_out(council):
    managed = {k: v for k, v in REAL_TENANT.items() if k != "MicrosoftAppPassword"}
    _, lines = doctor(council, {**managed, "MicrosoftAppType": "UserAssignedMSI"})
    assert line(lines, "ok   MicrosoftAppPassword is not needed: UserAssignedMSI")
    assert not [text for text in lines if text.startswith("fix  MicrosoftApp")]
    multi = {k: v for k, v in REAL_TENANT.items() if k != "MicrosoftAppTenantId"}
    _, lines = doctor(council, {**multi, "MicrosoftAppType": "MultiTenant"})
    assert line(lines, "note MicrosoftAppType is MultiTenant: Azure now creates bots single tenant")
    assert not [text for text in lines if text.startswith("fix  MicrosoftAppTenantId")]


def test_a_missing_secret_does_not_hide_another_wrong_setting(council):
    without_secret = {k: v for k, v in REAL_TENANT.items() if k != "MicrosoftAppPassword"}
    status, lines = doctor(council, {**without_secret, "PERFBOT_TIMEZONE": "Mars/Olympus"})
    assert status == 1
    assert line(lines, "fix  MicrosoftAppPassword is not set")
    assert line(lines, "fix  PERFBOT_TIMEZONE: 'Mars/Olympus' is not a time zone")
