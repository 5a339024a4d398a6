"""`perfbot doctor`: a deployment checked, one line for each thing that is right or must be
fixed, from the settings and the database as they are."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, union
from sqlalchemy.engine import URL

from bot import teams_app
from bot.settings import Settings, SettingsError
from domain import db
from domain.model import (
    ConversationRef,
    Delegate,
    LeadershipChannel,
    Measure,
    Person,
    PersonRole,
    Role,
)
from domain.people import NOT_INSTALLED, why_unreachable

GUIDE = "docs/deploy.md"
DATABASE_SECONDS = 15.0  # a database that does not answer in this long is reported, not waited on


class Status(StrEnum):
    OK = "ok"  # right as it is
    FIX = "fix"  # must be fixed before PerfBot serves a real tenant (exit status 1)
    NOTE = "note"  # worth knowing; nothing to fix


@dataclass(frozen=True)
class Check:
    status: Status
    text: str

    @property
    def must_fix(self) -> bool:
        return self.status is Status.FIX

    def line(self) -> str:
        return f"{self.status.value:<4} {self.text}"


def ok(text: str) -> Check:
    return Check(Status.OK, text)


def fix(text: str) -> Check:
    return Check(Status.FIX, text)


def note(text: str) -> Check:
    return Check(Status.NOTE, text)


def _guid(text: str) -> bool:
    return bool(teams_app.GUID.match(text))


def identity_checks(env: Mapping[str, str]) -> list[Check]:
    """The Azure Bot's identity: app id, type, secret and tenant, present and shaped right."""
    app_id = env.get("MicrosoftAppId", "").strip()
    app_type = env.get("MicrosoftAppType", "").strip() or (
        "SingleTenant" if app_id else "MultiTenant"
    )
    password = env.get("MicrosoftAppPassword", "")
    tenant = env.get("MicrosoftAppTenantId", "").strip()
    checks = []
    if not app_id:
        checks.append(
            fix(
                "MicrosoftAppId is not set: PerfBot accepts unauthenticated local traffic only "
                "(the Agents Playground). A real tenant needs the Azure Bot's app id (the "
                f"Application (client) ID of its Entra app; {GUIDE}, step 1)."
            )
        )
    elif not _guid(app_id):
        checks.append(
            fix(
                f"MicrosoftAppId '{app_id}' is not a GUID like 0a1b2c3d-0000-4000-8000-"
                "00000000abcd: copy the Application (client) ID from the Entra app's overview."
            )
        )
    else:
        checks.append(
            ok(f"MicrosoftAppId {app_id}: every request must carry a Bot Framework token for it.")
        )
    if app_type not in ("SingleTenant", "MultiTenant", "UserAssignedMSI"):
        checks.append(
            fix(
                f"MicrosoftAppType '{app_type}' is not SingleTenant, MultiTenant or "
                "UserAssignedMSI: set SingleTenant, as the Azure Bot was created."
            )
        )
    elif app_id and app_type == "MultiTenant":
        checks.append(
            note(
                "MicrosoftAppType is MultiTenant: Azure now creates bots single tenant; set "
                "SingleTenant and MicrosoftAppTenantId unless this Azure Bot really is "
                "multi-tenant."
            )
        )
    if app_type == "UserAssignedMSI":
        checks.append(
            ok("MicrosoftAppPassword is not needed: UserAssignedMSI uses the managed identity.")
        )
    elif not password:
        checks.append(
            fix(
                "MicrosoftAppPassword is not set: a real tenant needs the Entra app's client "
                "secret (its Value), kept in a secret store."
            )
        )
    elif _guid(password.strip()):
        checks.append(
            fix(
                "MicrosoftAppPassword looks like a GUID: that is the client secret's ID; set its "
                "Value, shown once when the secret is made (make a new one if it is lost)."
            )
        )
    elif password != password.strip():
        checks.append(
            fix("MicrosoftAppPassword has spaces or a new line around it: set it without them.")
        )
    else:
        checks.append(ok("MicrosoftAppPassword is set (not shown)."))
    if tenant and not _guid(tenant):
        checks.append(
            fix(
                f"MicrosoftAppTenantId '{tenant}' is not a GUID: copy the Directory (tenant) ID "
                "from the Entra app's overview."
            )
        )
    elif tenant:
        checks.append(
            ok(f"MicrosoftAppTenantId {tenant}: only this tenant's Teams may use PerfBot.")
        )
    elif app_type == "SingleTenant" or not app_id:  # a real tenant's bot is single tenant
        checks.append(
            fix(
                "MicrosoftAppTenantId is not set: a single-tenant bot needs the council's tenant "
                "id (the Directory (tenant) ID on the Entra app's overview)."
            )
        )
    return checks


# Settings that have lines of their own (identity_checks, public_checks): Settings' error
# about one of them is not told a second time.
OWN_LINES = ("MicrosoftApp", "PERFBOT_PUBLIC_URL")


def settings_of(env: Mapping[str, str]) -> tuple[Settings | None, list[Check]]:
    """The settings as `perfbot serve` reads them, and a line for what is wrong with them.
    Settings stop at their first error; one about the identity or the public address (told
    on their own lines) is set aside and the rest read without them, so that every other
    setting is still checked."""
    try:
        return Settings.from_env(env), []
    except SettingsError as error:
        if not str(error).startswith(OWN_LINES):
            return None, [fix(f"{error}.")]
    rest = {k: v for k, v in env.items() if not k.startswith(OWN_LINES)}
    try:
        return Settings.from_env(rest), []
    except SettingsError as error:
        return None, [fix(f"{error}.")]


def timetable_checks(settings: Settings) -> list[Check]:
    """The time zone, the send window and when the weekly summary goes."""
    window = settings.send_window
    zone = window.zone.key
    checks = []
    if window.always:
        checks.append(
            fix(
                "PERFBOT_SEND_HOURS is always: messages may go at night and at weekends (make "
                "run sets it for demos). Unset it for 08:00-18:00 on working days."
            )
        )
    else:
        assert window.start is not None
        assert window.end is not None
        checks.append(
            ok(
                f"Messages go on working days between {window.start:%H:%M} and "
                f"{window.end:%H:%M} ({zone}); the weekly summary "
                f"{settings.summary.describe()}."
            )
        )
    if zone != "Europe/London":
        checks.append(
            note(
                f"PERFBOT_TIMEZONE is {zone}: working days still skip the bank holidays of "
                "England and Wales."
            )
        )
    return checks


def public_checks(env: Mapping[str, str]) -> list[Check]:
    """The public endpoint, and what `perfbot package` needs besides the app id."""
    found = teams_app.unwired_settings(env)
    url = found["PERFBOT_PUBLIC_URL"]
    checks = []
    if not url:
        checks.append(
            fix(
                "PERFBOT_PUBLIC_URL is not set: a real tenant needs the https address PerfBot "
                "is reached at (behind the TLS reverse proxy), e.g. https://perfbot.council.gov.uk; "
                "the Azure Bot's messaging endpoint is that address with /api/messages."
            )
        )
    else:
        problem = teams_app.https_problem(
            "PERFBOT_PUBLIC_URL", url, teams_app.ADDRESSES["PERFBOT_PUBLIC_URL"]
        )
        if problem:
            checks.append(fix(f"{problem}."))
        else:
            checks.append(
                ok(
                    f"PERFBOT_PUBLIC_URL {url}: the Azure Bot's messaging endpoint must be "
                    f"{url.rstrip('/')}/api/messages."
                )
            )
    missing = [
        name for name in teams_app.UNWIRED if name != "PERFBOT_PUBLIC_URL" and not found[name]
    ]
    if missing:
        checks.append(
            fix(
                f"perfbot package also needs {', '.join(missing)} (the council's name and its "
                "support, privacy and terms pages, shown on PerfBot's page in Teams)."
            )
        )
    else:
        try:
            teams_app.details_from(env)
        except teams_app.PackageError as refused:
            told = ("MicrosoftAppId", "PERFBOT_PUBLIC_URL")  # on their own lines already
            checks += [
                fix(f"{problem}.")
                for problem in refused.problems
                if not any(name in problem for name in told)
            ]
        else:
            checks.append(ok("perfbot package has every setting it needs."))
    return checks


def missing_file(url: URL) -> Check | None:
    """A SQLite file that is not there (connecting would create it, empty)."""
    file = url.database if url.get_backend_name() == "sqlite" else None
    if not file or file == ":memory:" or Path(file).exists():
        return None
    return fix(
        f"The database file {Path(file).resolve()} does not exist (PERFBOT_DATABASE_URL is "
        f"{db.describe(url)}): run perfbot db upgrade to create it, or set PERFBOT_DATABASE_URL."
    )


async def database_checks(url: str) -> list[Check]:
    """Reachable, current, and what it holds that a deployment needs."""
    engine = db.create_engine(url)
    where = db.describe(engine.url)
    missing = missing_file(engine.url)
    if missing is not None:
        await engine.dispose()
        return [missing]
    try:
        try:
            revision = await asyncio.wait_for(db.current_revision(engine), DATABASE_SECONDS)
        except Exception as error:  # any failure to connect is the one thing to report
            reason = str(getattr(error, "orig", None) or error).splitlines() or [
                type(error).__name__
            ]
            return [
                fix(
                    f"The database {where} cannot be reached ({reason[0]}): check "
                    "PERFBOT_DATABASE_URL and that the database server is running."
                )
            ]
        head = db.head_revision()
        checks = []
        if engine.url.get_backend_name() == "sqlite":
            checks.append(
                note(
                    f"The database is a SQLite file ({engine.url.database}): right for one "
                    "server; several servers behind a load balancer need PostgreSQL."
                )
            )
        if revision is None:
            return [
                *checks,
                fix(f"The database {where} has no PerfBot tables yet: run perfbot db upgrade."),
            ]
        if revision != head:
            return [
                *checks,
                fix(
                    f"The database {where} is at schema {revision}; this PerfBot's is {head}: "
                    "run perfbot db upgrade (it keeps the data)."
                ),
            ]
        checks.append(ok(f"The database {where} is reachable and its schema is current ({head})."))
        async with db.session_factory(engine)() as session:
            checks += await _data_checks(session)
        return checks
    finally:
        await engine.dispose()


async def _data_checks(session: Any) -> list[Check]:
    people = list((await session.scalars(select(Person).order_by(Person.name))).all())
    measures = await session.scalar(
        select(func.count()).select_from(Measure).where(Measure.active.is_(True))
    )
    if not people or not measures:
        return [
            fix(
                "The database holds no measures or people yet: import the council's workbook "
                "(perfbot import --dry-run council.xlsx, then perfbot import council.xlsx)."
            )
        ]
    checks = [ok(f"{measures} measures and {len(people)} people.")]
    admins = [p for p in people if p.has_role(Role.ADMIN)]
    if not admins:
        checks.append(
            fix(
                "Nobody has the admin role: the performance team is who people are told to "
                "contact and who hears who cannot be reached; give them admin in the people sheet."
            )
        )
    checks.append(await _leadership_check(session, people))
    checks += await _reach_checks(session, people)
    return checks


async def _leadership_check(session: Any, people: list[Person]) -> Check:
    channel = await session.get(LeadershipChannel, 1)
    if channel is not None:
        name = channel.channel_name or channel.conversation_id
        team = f" of the team {channel.team_name}" if channel.team_name else ""
        return ok(f"The weekly summary goes to the channel {name}{team}.")
    leadership = [p.name for p in people if p.has_role(Role.LEADERSHIP)]
    if not leadership:
        return fix(
            "No leadership channel is set and nobody has the leadership role, so the weekly "
            "summary goes to nobody: add PerfBot to the Leadership Team's team and type set "
            "leadership channel in its channel (or give people the leadership role)."
        )
    return note(
        f"No leadership channel is set: the weekly summary goes to each of the Leadership Team "
        f"in person ({len(leadership)} people). To post it in their channel, add PerfBot to "
        "that team and type set leadership channel there, or run perfbot leadership "
        "set-channel."
    )


async def _reach_checks(session: Any, people: list[Person]) -> list[Check]:
    """How many have installed PerfBot, and how many of those it must write to first (owners,
    delegates, escalation owners) it cannot reach yet."""
    installed = set(
        await session.scalars(
            select(ConversationRef.person_id).where(
                ConversationRef.scope == "personal", ConversationRef.person_id.is_not(None)
            )
        )
    )
    escalation_owners = select(Measure.escalation_owner_id).where(
        Measure.active.is_(True), Measure.escalation_owner_id.is_not(None)
    )
    owners = select(Measure.owner_id).where(Measure.active.is_(True))
    delegates = (
        select(Delegate.person_id)
        .join(Measure, Measure.id == Delegate.measure_id)
        .where(Measure.active.is_(True))
    )
    escalation_role = select(PersonRole.person_id).where(PersonRole.role == Role.ESCALATION_OWNER)
    wanted = set(
        await session.scalars(union(owners, escalation_owners, delegates, escalation_role))
    )
    reachable = len([p for p in people if p.id in installed])
    checks = [
        (ok if reachable == len(people) else note)(
            f"{reachable} of {len(people)} people have installed PerfBot (a personal chat it "
            "can write to)."
        )
    ]
    not_installed, refused = [], []
    for person in people:
        if person.id not in wanted:
            continue
        why = await why_unreachable(session, person)
        if why == NOT_INSTALLED:
            not_installed.append(person)
        elif why:
            refused.append(person)
    if not (not_installed or refused):
        checks.append(
            ok(
                f"Every one of the {len(wanted)} owners, delegates and escalation owners can be reached."
            )
        )
        return checks
    parts = []
    if not_installed:
        parts.append(f"{len(not_installed)} have not installed it")
        if len(not_installed) <= 3:
            parts[-1] += f" ({', '.join(p.name for p in not_installed)})"
    if refused:
        parts.append(f"Teams refused {len(refused)} (perfbot people --unreachable says why)")
    checks.append(
        fix(
            f"{len(not_installed) + len(refused)} of {len(wanted)} owners, delegates and "
            f"escalation owners cannot be reached yet: {'; '.join(parts)}. PerfBot can only "
            "write first to people who have it: install it for them with a Teams app setup "
            f"policy ({GUIDE}, step 8)."
        )
    )
    return checks


async def examine(env: Mapping[str, str]) -> list[Check]:
    """Every check, in the order a deployment is set up."""
    checks = identity_checks(env)
    settings, wrong = settings_of(env)
    checks += wrong
    if settings is not None:
        checks += timetable_checks(settings)
        checks += await database_checks(settings.database_url)
    else:
        raw = env.get("PERFBOT_DATABASE_URL", "").strip() or db.DEFAULT_DATABASE_URL
        try:
            url = db.database_url(raw).render_as_string(hide_password=False)
        except db.DatabaseUrlError:
            pass  # told above, as the settings' error
        else:
            checks += await database_checks(url)
    checks += public_checks(env)
    return checks


def verdict(checks: list[Check]) -> str:
    count = sum(check.must_fix for check in checks)
    if not count:
        return "Ready: nothing to fix."
    return (
        f"{count} thing{'s' if count != 1 else ''} to fix before PerfBot is ready for a real "
        f"tenant ({GUIDE} says how)."
    )
