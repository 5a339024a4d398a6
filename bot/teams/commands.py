"""What people can type in their personal chat: one table of commands, each with its
pattern, its handler and its line on the help card (which is drawn from the table)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot import web
from bot.delivery.messages import summary_chart
from bot.references import channel_values
from bot.teams.turn import Turn
from cards import render as cards
from domain import (
    action_plans,
    board,
    cover,
    deep_dives,
    escalations,
    leadership,
    locks,
    milestones,
    report_links,
    returns,
    signoff,
    summary,
    views,
)
from domain.board import ReportError, ReportKind
from domain.dates import long_day
from domain.model import LeadershipChannel, Role
from domain.periods import Frequency, Period, PeriodError
from domain.reporting import load_calendar
from domain.text import TextError
from domain.text import clean as clean_text

CommandHandler = Callable[[Turn, tuple[str, ...]], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    name: str
    pattern: re.Pattern[str]  # matched against the whole message, in any case
    handler: CommandHandler
    # As the help card shows it, with {code} the person's own measure code, {day} a day two
    # weeks ahead and {quarter} the last quarter (``example``), so each can be typed as shown.
    usage: str
    help: str  # what it does, on the help card (the same placeholders)


async def show_help(turn: Turn, args: tuple[str, ...]) -> None:
    lines = await help_for(turn)
    await turn.send_card(cards.help_card(lines, contact=await turn.contact()))


async def help_for(turn: Turn) -> list[tuple[str, str]]:
    """The help card's lines with the person's own measure code in the examples."""
    async with turn.uow() as tx:
        code, frequency = await views.example_code(tx, turn.person)
    return help_lines(code, turn.today, frequency)


async def my_measures(turn: Turn, args: tuple[str, ...]) -> None:
    async with turn.uow() as tx:
        stand = await cover.stand_of(tx, turn.person, turn.today)
        items = await views.my_returns(tx, turn.person, turn.today, turn.policy, stand.measures)
        mine = milestones.lines(await milestones.of_person(tx, turn.person), turn.today)
    await turn.send_card(
        cards.my_measures_card(turn.person.name, items, turn.today, cover_lines(stand), mine)
    )


def cover_lines(stand: cover.Stand) -> list[str]:
    """What ``my measures`` says of cover: who covers for the person, and whom they cover."""
    lines = []
    if stand.absence is not None and stand.plan is not None:
        back = long_day(stand.absence.until)
        shares = [
            f"{share.person.name} ({views.in_words(list(share.codes))})"
            for share in stand.plan.covers
        ]
        covered = f" Covering for you: {views.in_words(shares)}." if shares else ""
        lines.append(f"You are away until {back}.{covered} Type back if you return sooner.")
    for absence, codes in stand.covering:
        lines.append(
            f"You are covering {views.in_words(list(codes))} for {absence.person.name}, away "
            f"until {long_day(absence.until)}."
        )
    return lines


async def list_milestones(turn: Turn, args: tuple[str, ...]) -> None:
    """The person's milestones (their own, and their key actions'), each with its card."""
    async with turn.uow() as tx:
        mine = milestones.lines(await milestones.of_person(tx, turn.person), turn.today)
    if not mine:
        await turn.say(
            "You have no milestones: they belong to key actions, and the performance team "
            "adds them with the milestones sheet. Type my measures to see what you own."
        )
        return
    late = sum(1 for line in mine if line.past_due)
    heading = f"{turn.person.name}: {len(mine)} milestone{'s' if len(mine) != 1 else ''}"
    if late:
        heading += f", {late} past {'its' if late == 1 else 'their'} date"
    await turn.send_card(cards.milestones_card(heading, mine))


async def send_return_card(turn: Turn, code: str, period_text: str | None) -> None:
    """The return card for a measure, for its current period unless one is named (a period
    that cannot be read means the current one)."""
    period = None
    if period_text:
        try:
            period = Period.parse(period_text)
        except PeriodError:
            period = None
    item = await turn.attempt(
        lambda tx: views.return_card_for(tx, turn.person, code, period, turn.today, turn.policy)
    )
    if item is not None:
        await turn.send_card(cards.return_card(item, turn.today, required=turn.policy.required))


async def submit(turn: Turn, args: tuple[str, ...]) -> None:
    code, period = args[0], args[1] or None
    if period:
        try:
            Period.parse(period)
        except PeriodError as error:
            await turn.say(f"{error}. For example: submit {code.upper()} 2025/26 Q1.")
            return
    await send_return_card(turn, code, period)


async def period(turn: Turn, args: tuple[str, ...]) -> None:
    """The performance team's card for a period: where its returns stand, to sign off."""
    if not turn.person.has_role(Role.ADMIN):
        await turn.say(
            "period is for the performance team, who sign periods off. Type review to see "
            "returns awaiting your approval."
        )
        return
    now = turn.now
    status = await turn.attempt(lambda tx: locks.period_status(tx, args[0], now))
    if status is not None:
        await turn.send_card(cards.period_card(status))


async def review(turn: Turn, args: tuple[str, ...]) -> None:
    """What awaits the person's approval: a card per period."""
    period = args[0] if args and args[0] else None
    found = await turn.attempt(lambda tx: signoff.reviews(tx, turn.person, turn.policy, period))
    if found is None:
        return
    if not found.cards:
        where = f" for {period}" if period else ""
        await turn.say(f"Nothing awaits your approval{where} now.")
        return
    for card in found.cards:
        await turn.send_card(cards.review_card(card))
    if found.more_periods:
        await turn.say(
            "Returns for more periods await you too: "
            + ", ".join(found.more_periods)
            + f". Type review {found.more_periods[0]} to see one."
        )


async def status(turn: Turn, args: tuple[str, ...]) -> None:
    items = await turn.attempt(
        lambda tx: views.service_status(tx, turn.person, turn.today, turn.policy)
    )
    if items is None:
        return
    watched: list[escalations.Watched] = []
    if turn.person.has_role(Role.ESCALATION_OWNER):  # their off-track measures, first
        async with turn.uow() as tx:
            watched = await escalations.watched(tx, turn.person, items, turn.now, turn.policy)
    quarter = board.latest_period(ReportKind.BOARD, turn.today).label
    await turn.send_card(
        cards.status_card(f"Status for {turn.person.name}", items, watched, quarter)
    )


async def send_report_link(turn: Turn, kind_text: str, period_text: str) -> None:
    """A person's own signed link to a report (the board unless the card says otherwise),
    for the quarter asked (or the last one), scoped to what they may see. In their personal
    chat it comes in reply; asked in a channel, it goes to their personal chat, and the
    channel hears only whether it is on its way."""
    try:
        kind = ReportKind.parse(kind_text or "board")
        period = (
            board.report_period(kind, period_text)
            if period_text
            else board.latest_period(kind, turn.today)
        )
    except ReportError as error:
        said = str(error)
        await turn.say(f"{said[:1].upper()}{said[1:]}. Type board alone for the last quarter.")
        return
    person, now, settings = turn.person, turn.now, turn.services.settings
    if not _personal(turn):
        pressed = turn.ctx.activity.id or ""
        said = await turn.uow.run(
            lambda tx: report_links.send_link(
                tx, person, kind, period, pressed, now, settings.send_window
            )
        )
        await turn.say(said)
        return
    scope = await turn.uow.run(lambda tx: board.scope_of(tx, person))
    if scope.nothing:
        await turn.say(web.NOTHING_TO_SEE)
        return
    await turn.send_card(web.link_card(settings, person, scope, kind, period, now))


async def show_board(turn: Turn, args: tuple[str, ...]) -> None:
    await send_report_link(turn, "board", args[0] if args else "")


async def send_actions(turn: Turn, notice: str = "", replace: bool = False) -> None:
    """The person's action-plan items, each open one with Mark done; ``replace``: in place
    of the card whose button was pressed."""
    async with turn.uow() as tx:
        items = await action_plans.items_of(tx, turn.person, turn.today)
    card = cards.actions_card(
        turn.person.name,
        items,
        may_drop=lambda item: action_plans.may_drop(turn.person, item),
        notice=notice,
    )
    if replace:
        await turn.replace_card(card)
    else:
        await turn.send_card(card)


async def actions(turn: Turn, args: tuple[str, ...]) -> None:
    await send_actions(turn)


async def snooze(turn: Turn, args: tuple[str, ...]) -> None:
    code, until = args
    done = await turn.attempt(
        lambda tx: returns.snooze(tx, turn.person, code, until, turn.now, turn.policy)
    )
    if done is None:
        return
    which = f"{done.measure.code} ({done.period.label})"
    if done.capped:
        await turn.say(
            f"I can't snooze past the deadline, so reminders for {which} will start again on the "
            f"deadline, {long_day(done.until)}."
        )
    else:
        await turn.say(f"OK: no reminders for {which} until {long_day(done.until)}.")


def _told(name: str, told: bool, note: str) -> str:
    return f" I've sent {name} a message to say so.{note}" if told else ""


async def delegate(turn: Turn, args: tuple[str, ...]) -> None:
    code, email = args
    done = await turn.attempt(lambda tx: returns.delegate(tx, turn.person, code, email, turn.now))
    if done is None:
        return
    measure, who = done.measure, done.delegate
    if done.new:
        await turn.say(
            f"{who.name} can now send {measure.code}'s returns; they'll get the reminders "
            f"too. {measure.owner.name} stays accountable as owner."
            + _told(who.name, done.told, done.note)
        )
    else:
        await turn.say(f"{who.name} is already a delegate for {measure.code}.")


async def delegate_all(turn: Turn, args: tuple[str, ...]) -> None:
    (email,) = args
    done = await turn.attempt(lambda tx: returns.delegate_all(tx, turn.person, email, turn.now))
    if done is None:
        return
    who = done.delegate.name
    if not done.added:
        await turn.say(
            f"{who} is already a delegate for all your measures "
            f"({views.in_words(list(done.already))}). Nothing was changed."
        )
        return
    already = (
        f" (and was already one for {views.in_words(list(done.already))})" if done.already else ""
    )
    await turn.say(
        f"{who} is now a delegate for {views.in_words(list(done.added))}{already}: they can "
        "send those returns and get their reminders too. You stay accountable as owner."
        + _told(who, done.told, done.note)
    )


async def undelegate(turn: Turn, args: tuple[str, ...]) -> None:
    code, email = args
    done = await turn.attempt(lambda tx: returns.undelegate(tx, turn.person, code, email, turn.now))
    if done is None:
        return
    who, measure = done.delegate.name, done.measure
    await turn.say(
        f"{who} is no longer a delegate for {measure.code}: its reminders no longer go to them "
        "and they can no longer send its returns." + _told(who, done.told, done.note)
    )


async def away(turn: Turn, args: tuple[str, ...]) -> None:
    until, email = args[0], args[1] if len(args) > 1 else ""
    done = await turn.attempt(lambda tx: returns.away(tx, turn.person, until, email, turn.now))
    if done is None:
        return
    back = long_day(done.until)
    shares = [
        f"{share.person.name} ({views.in_words(list(share.codes))})" for share in done.plan.covers
    ]
    if not shares:
        said = (
            f"OK: you are away until {back}. You own no measures, so nobody covers for you; "
            "PerfBot sends you no reminders or chasers until then."
        )
    else:
        said = (
            f"OK: you are away until {back}. Until then your reminders and chasers go to "
            f"{views.in_words(shares)}, who can send those returns; you won't be chased. From "
            f"{long_day(done.until, year=False)} they come to you again."
        )
    if done.unchanged:
        said += " That was already set, so nobody was told again."
    if done.told:
        said += f" I've sent {views.in_words(list(done.told))} a message to say so."
    if done.ended:
        said += f" I've told {views.in_words(list(done.ended))} that they no longer cover for you."
    await turn.say(f"{said}{done.note} Type back if you return sooner.")


async def back(turn: Turn, args: tuple[str, ...]) -> None:
    done = await turn.uow.run(lambda tx: returns.back(tx, turn.person, turn.now))
    if not done.was_away:
        await turn.say(
            "You are not marked away, so there is nothing to end: your reminders come to you "
            f"as usual. To hand over while you are away, type away until "
            f"{returns.back_example(turn.today)}."
        )
        return
    told = (
        f" I've told {views.in_words(list(done.ended))} that their cover has ended."
        if done.ended
        else ""
    )
    await turn.say(
        "Welcome back: your reminders and chasers come to you again from now." + told + done.note
    )


async def list_deep_dives(turn: Turn, args: tuple[str, ...]) -> None:
    items = await turn.attempt(lambda tx: deep_dives.listing(tx, turn.person, turn.today))
    if items is not None:
        await turn.send_card(cards.deep_dives_card("Deep dives", items))


def _personal(turn: Turn) -> bool:
    return (turn.ctx.activity.conversation.conversation_type or "personal") == "personal"


def _in_channel(turn: Turn) -> bool:
    return bool(turn.ctx.activity.conversation.conversation_type == "channel")


async def set_leadership_channel(turn: Turn, args: tuple[str, ...]) -> None:
    """Typed in a team channel by an admin: the weekly summary is posted there from now on."""
    if not _in_channel(turn):
        await turn.say(
            "Type set leadership channel in the team channel where the Leadership Team should "
            "get the weekly summary (add PerfBot to that team first), not here: PerfBot then "
            "posts the summary in that channel."
        )
        return
    if not turn.person.has_role(Role.ADMIN):
        await turn.say(
            "Only the performance team can choose where the weekly summary goes: ask "
            f"{await turn.contact()}. Nothing was changed."
        )
        return
    channel_id, values = channel_values(turn.ctx.activity)
    now, by = turn.now, turn.person.email
    schedule = turn.services.settings.timetable.summary

    async def choose(tx: AsyncSession) -> tuple[str, str]:
        before = await tx.get(LeadershipChannel, 1)
        instead = ""
        if before is not None and before.conversation_id != channel_id:
            team = f" in {before.team_name}" if before.team_name else ""
            instead = (
                f" It no longer goes to {before.channel_name or before.conversation_id}{team}."
            )
        await leadership.set_channel(tx, channel_id, values, by, now)
        calendar = await load_calendar(tx)
        day, when = await leadership.next_summary(tx, now, schedule, calendar)
        return instead, leadership.next_words(day, when, schedule, calendar)

    instead, upcoming = await turn.uow.run(choose)
    await turn.say(
        f"The weekly summary will be posted here {schedule.describe()} ({schedule.zone.key}); "
        f"the next one on {upcoming}.{instead} To send one now, run perfbot jobs run "
        "weekly-summary; perfbot leadership show says where it goes."
    )


async def weekly_summary(turn: Turn, args: tuple[str, ...]) -> None:
    """The weekly summary's card as it stands now, for the Leadership Team and the admins."""
    if not (turn.person.has_role(Role.LEADERSHIP) or turn.person.has_role(Role.ADMIN)):
        # Only point to what this person may use: status is for escalation owners.
        instead = (
            "Type status for your service's returns and ratings, or my measures for your own."
            if turn.person.has_role(Role.ESCALATION_OWNER)
            else "Type my measures for your own returns."
        )
        await turn.say(f"The weekly summary is for the Leadership Team. {instead}")
        return
    if _in_channel(turn):
        await turn.say(
            "Type summary in your personal chat with PerfBot to see it now; here it is posted "
            "on its day."
        )
        return
    now, policy = turn.now, turn.policy
    week_of = turn.services.settings.timetable.summary.week_of(now)

    async def read(tx: AsyncSession) -> summary.Summary:
        return await summary.build(tx, now, policy, await leadership.since(tx), week_of)

    found = await turn.uow.run(read)
    await turn.send_card(cards.summary_card(found, await summary_chart(found)))


async def unknown(turn: Turn, text: str) -> None:
    """Anything PerfBot does not understand gets the help card, never silence."""
    said = text[:80] + ("…" if len(text) > 80 else "")
    note = f"I didn't understand \u201c{said}\u201d." if said else ""
    lines = await help_for(turn)
    await turn.send_card(cards.help_card(lines, note=note, contact=await turn.contact()))


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text, re.IGNORECASE)


COMMANDS: list[Command] = [
    Command(
        "my measures",
        _pattern(r"^(?:my\s+measures?|measures|my\s+returns?|list)$"),
        my_measures,
        "my measures",
        "what you own or deputise for, and what is due",
    ),
    Command(
        "submit",
        _pattern(r"^(?:submit|return|send|correct)\s+(\S+)(?:\s+(?:for\s+)?(.+))?$"),
        submit,
        "submit {code}",
        "the return card for a measure (add a period, as in submit {code} {quarter})",
    ),
    Command(
        "period",
        _pattern(r"^(?:period|sign[\s-]*off\s+period)\s+(.+)$"),
        period,
        "period 2025/26 Q1",
        "where a period's returns stand, to sign it off or reopen it (performance team)",
    ),
    Command(
        "review",
        _pattern(r"^(?:review|approve|approvals?|sign[\s-]*off)(?:\s+(?:for\s+)?(.+))?$"),
        review,
        "review",
        "returns awaiting your approval, to approve or return (escalation owners)",
    ),
    Command(
        "status",
        _pattern(r"^status$"),
        status,
        "status",
        "your service's returns and ratings (escalation owners and leadership)",
    ),
    Command(
        "board",
        _pattern(r"^(?:the\s+)?(?:performance\s+)?board(?:\s+(?:for\s+)?(.+))?$"),
        show_board,
        "board",
        "a link to the quarterly performance board, for what you may see (add a quarter, as "
        "in board 2025/26 Q1)",
    ),
    Command(
        "actions",
        _pattern(r"^(?:my\s+)?actions?(?:\s+plans?)?$"),
        actions,
        "actions",
        "your action-plan items, to mark each done as it is",
    ),
    Command(
        "milestones",
        _pattern(r"^(?:my\s+)?milestones?$"),
        list_milestones,
        "milestones",
        "your key actions' milestones, to give each its status and a revised date if it slips",
    ),
    Command(
        "snooze",
        _pattern(r"^snooze\s+(\S+)\s+(?:until|till|to)\s+(.+)$"),
        snooze,
        "snooze {code} until {day}",
        "no reminders until then (never past the deadline)",
    ),
    Command(
        "delegate all",
        _pattern(r"^delegate\s+(?:all|everything)(?:\s+(?:my\s+)?measures)?\s+to\s+(\S+)$"),
        delegate_all,
        "delegate all to name@council.gov.uk",
        "make someone a delegate for every measure you own",
    ),
    Command(
        "delegate",
        _pattern(r"^delegate\s+(\S+)\s+to\s+(\S+)$"),
        delegate,
        "delegate {code} to name@council.gov.uk",
        "let someone else send a measure's return",
    ),
    Command(
        "undelegate",
        _pattern(r"^(?:undelegate|remove\s+delegate)\s+(\S+)\s+from\s+(\S+)$"),
        undelegate,
        "undelegate {code} from name@council.gov.uk",
        "stop someone being a delegate for a measure",
    ),
    Command(
        "away",
        _pattern(
            r"^(?:i\s*['\u2019]?m\s+|i\s+am\s+)?away\s+(?:until|till|til|to)\s+(.+?)"
            r"(?:\s+(?:delegate|cover(?:ed)?(?:\s+by)?)(?:\s+to)?\s+(\S+))?$"
        ),
        away,
        "away until {day} delegate name@council.gov.uk",
        "away until the day you are back: your reminders and chasers go to the person named "
        "and your measures' delegates (else your manager), who can send those returns",
    ),
    Command(
        "back",
        _pattern(r"^(?:back|i\s*['\u2019]?m\s+back|i\s+am\s+back|away\s+(?:off|over|end|cancel))$"),
        back,
        "back",
        "you are back before the day you gave: your reminders come to you again",
    ),
    Command(
        "deep dives",
        _pattern(r"^deep[\s-]*dives?$"),
        list_deep_dives,
        "deep dives",
        "deep dives waiting for a decision, and those accepted (Leadership Team)",
    ),
    Command(
        "summary",
        _pattern(r"^(?:weekly\s+)?summary$"),
        weekly_summary,
        "summary",
        "the Leadership Team's weekly summary as it stands now (Leadership Team)",
    ),
    Command(
        "set leadership channel",
        _pattern(r"^set\s+(?:the\s+)?leadership\s+channel$"),
        set_leadership_channel,
        "set leadership channel",
        "typed in a team channel: the weekly summary is posted there (performance team)",
    ),
    Command(
        "help",
        _pattern(r"^(?:help|\?|hi|hello|hey|start|menu)$"),
        show_help,
        "help",
        "this list",
    ),
]


def example(text: str, code: str, today: date, frequency: Frequency = Frequency.QUARTERLY) -> str:
    """A usage or help line with its placeholders filled: a measure code, a day two weeks
    ahead, and the last period of the measure's ``frequency`` ended (one it takes)."""
    quarter = Period.containing(today, frequency).previous().label
    return (
        text.replace("{code}", code)
        .replace("{day}", (today + timedelta(days=14)).isoformat())
        .replace("{quarter}", quarter)
    )


def help_lines(
    code: str, today: date, frequency: Frequency = Frequency.QUARTERLY
) -> list[tuple[str, str]]:
    """The help card's lines, with ``code`` (the person's own, where they have one, of
    ``frequency``) in the examples and dates from ``today``."""
    return [
        (example(c.usage, code, today, frequency), example(c.help, code, today, frequency))
        for c in COMMANDS
    ]


def clean(text: str) -> str:
    """A message as a command is read: mentions removed, white space folded."""
    text = re.sub(r"<at>.*?</at>", " ", text or "")
    return re.sub(r"\s+", " ", text).strip()


def match(text: str) -> tuple[Command, tuple[str, ...]] | None:
    """The command a message is, with its arguments (keeping their case: an email, a date;
    codes are upper-cased by the domain); None if it is none of them."""
    said = clean(text).rstrip(".!")
    for command in COMMANDS:
        found = command.pattern.match(said)
        if found:
            return command, tuple((a or "").strip() for a in found.groups())
    return None


MAX_MESSAGE = 1_000  # longest message read as a command (none needs more than a line)


async def dispatch(turn: Turn, text: str) -> None:
    """Run what a person typed: its length first, then its characters (domain/text.py),
    each refused in a sentence before anything is read."""
    if len(text) > MAX_MESSAGE:
        await turn.say(
            f"That message is over {MAX_MESSAGE:,} characters, which is longer than any "
            "command: type help to see what PerfBot understands."
        )
        return
    try:
        text = clean_text(text, "Your message")
    except TextError as error:
        await turn.say(str(error))
        return
    found = match(text)
    if found is None:
        await unknown(turn, clean(text))
        return
    command, args = found
    await command.handler(turn, args)
