"""The Teams activity handler: installs, identity, typed commands and card submissions.

One database session per incoming activity. Card actions and commands are dispatched through
dicts, not if-chains. Everything a person sees is a sentence or a card; no stack trace.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from botbuilder.core import MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount
from botbuilder.schema.teams import TeamInfo, TeamsChannelAccount
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.connector import write_model
from bot.settings import Settings
from cards import render as cards
from domain import returns
from domain.model import ConversationRef, Notification, Person, Role
from domain.periods import Period, PeriodError
from domain.reporting import load_calendar
from domain.returns import FormProblems, Refused, SubmitReturn

log = logging.getLogger("perfbot.bot")

Clock = Callable[[], datetime]
SUBMIT_ATTEMPTS = 3
STORED_CONVERSATIONS = 50_000  # conversations whose stored reference this process remembers


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[str, ...] = ()
    text: str = ""


_COMMANDS = [
    ("help", re.compile(r"^(?:help|\?|hi|hello|hey|start|menu)$", re.IGNORECASE)),
    ("my_measures", re.compile(r"^(?:my\s+measures?|measures|my\s+returns?|list)$", re.IGNORECASE)),
    ("submit", re.compile(r"^(?:submit|return|send)\s+(\S+)$", re.IGNORECASE)),
    ("status", re.compile(r"^status$", re.IGNORECASE)),
    ("snooze", re.compile(r"^snooze\s+(\S+)\s+(?:until|till|to)\s+(.+)$", re.IGNORECASE)),
    ("delegate", re.compile(r"^delegate\s+(\S+)\s+to\s+(\S+)$", re.IGNORECASE)),
]


def parse_command(text: str) -> Command:
    """Typed commands, case- and whitespace-insensitive; anything else is 'unknown'.
    Arguments keep their case (an email, a date); codes are upper-cased by the domain."""
    clean = re.sub(r"<at>.*?</at>", " ", text or "")
    clean = re.sub(r"\s+", " ", clean).strip()
    for name, pattern in _COMMANDS:
        match = pattern.match(clean.rstrip(".!"))
        if match:
            return Command(name, tuple(a.strip() for a in match.groups()), clean)
    return Command("unknown", (), clean)


class PerfBot(TeamsActivityHandler):
    """Answers people in Teams."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        # What this process last stored (or found stored) for each conversation, so that an
        # ordinary message, which nearly always comes from where the last one did, needs no
        # database round to say so. Installs always go to the database.
        self._stored: dict[str, dict[str, Any]] = {}
        self.commands: dict[
            str, Callable[[TurnContext, AsyncSession, Person, Command], Awaitable[None]]
        ] = {
            "help": self.help,
            "my_measures": self.my_measures,
            "submit": self.submit_command,
            "status": self.status,
            "snooze": self.snooze,
            "delegate": self.delegate,
            "unknown": self.unknown_command,
        }
        self.card_actions: dict[
            str, Callable[[TurnContext, AsyncSession, Person, cards.Submission], Awaitable[None]]
        ] = {
            "submit_return": self.submit_card,
            "not_available": self.not_available_card,
            "open_return": self.open_return_card,
            "my_measures": lambda ctx, s, p, _sub: self.my_measures(
                ctx, s, p, Command("my_measures")
            ),
        }

    # ---- installs and conversation references ------------------------------------------

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._installed(turn_context)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        await self._uninstalled(turn_context)

    async def on_teams_members_added(
        self,
        teams_members_added: list[TeamsChannelAccount],
        team_info: TeamInfo,
        turn_context: TurnContext,
    ) -> None:
        bot_id = turn_context.activity.recipient.id
        if any(member.id == bot_id for member in teams_members_added):
            await self._installed(turn_context)

    async def on_teams_members_removed(
        self,
        teams_members_removed: list[TeamsChannelAccount],
        team_info: TeamInfo,
        turn_context: TurnContext,
    ) -> None:
        bot_id = turn_context.activity.recipient.id
        if any(member.id == bot_id for member in teams_members_removed):
            await self._uninstalled(turn_context)

    async def _installed(self, ctx: TurnContext) -> None:
        personal = (ctx.activity.conversation.conversation_type or "personal") == "personal"
        async with self.sessions() as session:
            person = await self._identify(ctx, session) if personal else None
            await session.commit()
        created = await self._remember(ctx, person, fresh=True)
        if not created:
            return  # both installationUpdate and conversationUpdate arrive: welcome once
        if not personal:
            await ctx.send_activity(
                MessageFactory.attachment(
                    cards.attachment(
                        cards.notice_card(
                            "PerfBot is here",
                            "I'll post the weekly performance summary in this team. Measure owners "
                            "hear from me in their personal chat.",
                        )
                    )
                )
            )
            return
        async with self.sessions() as session:
            if person is None:
                await self._unknown_person(ctx, session)
                return
            contact = await self._contact(session)
        await ctx.send_activity(
            MessageFactory.attachment(cards.attachment(cards.welcome_card(person.name, contact)))
        )

    async def _uninstalled(self, ctx: TurnContext) -> None:
        self._stored.pop(ctx.activity.conversation.id, None)
        async with self.sessions() as session, session.begin():
            await session.execute(
                delete(ConversationRef).where(
                    ConversationRef.conversation_id == ctx.activity.conversation.id
                )
            )
        log.info("removed the conversation reference for %s", ctx.activity.conversation.id)

    async def _remember(self, ctx: TurnContext, person: Person | None, fresh: bool = False) -> bool:
        """Store or refresh where this conversation can be reached; True if it is new. Unless
        ``fresh``, what this process stored a moment ago for it is taken as still stored."""
        activity = ctx.activity
        reference = TurnContext.get_conversation_reference(activity)
        reference.activity_id = None  # where to reach them, not the message they last sent
        data = write_model(reference)
        channel_data = activity.channel_data or {}
        tenant = (channel_data.get("tenant") or {}).get("id") or getattr(
            activity.conversation, "tenant_id", None
        )
        values: dict[str, Any] = {
            "scope": activity.conversation.conversation_type or "personal",
            "tenant_id": tenant,
            "user_id": activity.from_property.id if activity.from_property else None,
            "aad_object_id": activity.from_property.aad_object_id
            if activity.from_property
            else None,
            "team_id": (channel_data.get("team") or {}).get("id"),
            "service_url": activity.service_url,
            "bot_id": activity.recipient.id if activity.recipient else None,
            "reference": data,
        }
        if person is not None and values["scope"] == "personal":
            values["person_id"] = person.id
            if person.unreachable_reason or (
                values["user_id"] and person.teams_user_id != values["user_id"]
            ):
                await self._reachable_again(person.id, values["user_id"])
        conversation_id = activity.conversation.id
        if not fresh and self._stored.get(conversation_id) == values:
            return False
        if len(self._stored) >= STORED_CONVERSATIONS:
            self._stored.clear()
        async with self.sessions() as session:
            existing = await session.scalar(
                select(ConversationRef).where(
                    ConversationRef.conversation_id == activity.conversation.id
                )
            )
            if existing is not None:
                changed = {k: v for k, v in values.items() if getattr(existing, k) != v}
                if changed:
                    for key, value in changed.items():
                        setattr(existing, key, value)
                    existing.updated_at = self.clock()
                    await session.commit()
                self._stored[conversation_id] = values
                return False
            session.add(
                ConversationRef(
                    conversation_id=activity.conversation.id, updated_at=self.clock(), **values
                )
            )
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()  # the other install event stored it a moment ago
                return False
        self._stored[conversation_id] = values
        log.info("stored the conversation reference for %s", activity.conversation.id)
        return True

    async def _reachable_again(self, person_id: int, teams_user_id: str | None) -> None:
        """Someone who installs PerfBot or talks to it can be messaged (again)."""
        async with self.sessions() as session:
            person = await session.get(Person, person_id)
            if person is None:
                return
            if teams_user_id and person.teams_user_id != teams_user_id:
                person.teams_user_id = teams_user_id
            person.unreachable_reason = None
            person.unreachable_since = None
            await session.commit()

    # ---- identity ------------------------------------------------------------------------

    async def _identify(self, ctx: TurnContext, session: AsyncSession) -> Person | None:
        sender: ChannelAccount = ctx.activity.from_property
        aad = getattr(sender, "aad_object_id", None)
        person = await returns.find_person(session, aad, None)
        if person is not None:
            return person
        await session.commit()  # hold no transaction (nor SQLite's one connection) over the network
        email = None
        try:
            member = await TeamsInfo.get_member(ctx, sender.id)
            email = member.email or member.user_principal_name
            aad = aad or member.aad_object_id
        except Exception as error:  # the member lookup is a courtesy; its failure is not fatal
            log.warning("could not look up Teams member %s: %s", sender.id, error)
        return await returns.find_person(session, aad, email)

    async def _contact(self, session: AsyncSession) -> str:
        admins = await returns.people_by_role(session, Role.ADMIN)
        return ", ".join(f"{a.name} ({a.email})" for a in admins[:2]) or "the performance team"

    async def _unknown_person(self, ctx: TurnContext, session: AsyncSession) -> None:
        sender = ctx.activity.from_property
        contact = await self._contact(session)
        admins = await returns.people_by_role(session, Role.ADMIN)
        key = sender.aad_object_id or sender.id
        for notification in returns.unknown_person_notification(
            admins, key, sender.name or "", None, self.clock()
        ):
            exists = await session.scalar(
                select(Notification.id).where(Notification.reason_key == notification.reason_key)
            )
            if exists is None:
                session.add(notification)
        await self._say(
            session,
            ctx,
            f"Hello{' ' + sender.name if sender.name else ''}. I'm PerfBot, the council's "
            "performance reporting assistant, but I can't find you in the list of measure "
            f"owners, so I can't show you any measures yet. If you should be on it, please "
            f"contact {contact}. I've let them know you tried.",
        )

    # ---- messages ------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        ctx = turn_context
        async with self.sessions() as session:
            person = await self._identify(ctx, session)
            if person is None:
                await self._unknown_person(ctx, session)
                return
            await session.commit()  # keeps an Entra id learned from the member lookup
            if (ctx.activity.conversation.conversation_type or "personal") == "personal":
                await self._remember(ctx, person)
            submission = cards.parse_submission(ctx.activity.value) if ctx.activity.value else None
            if ctx.activity.value is not None and submission is None:
                await self._say(
                    session,
                    ctx,
                    "That card is not one PerfBot recognises, so nothing was saved. Type my measures "
                    "for a fresh one.",
                )
                return
            if submission is not None:
                await self.card_actions[submission.verb](ctx, session, person, submission)
                return
            command = parse_command(ctx.activity.text or "")
            await self.commands[command.name](ctx, session, person, command)

    def _today(self) -> date:
        return returns.today_in_london(self.clock())

    async def _say(self, session: AsyncSession, ctx: TurnContext, text: str) -> None:
        await session.commit()  # end the (read) transaction before the network call
        await ctx.send_activity(text)

    async def _send_card(
        self, ctx: TurnContext, card: dict[str, Any], session: AsyncSession | None = None
    ) -> None:
        if session is not None:
            await session.commit()  # end the (read) transaction before the network call
        await ctx.send_activity(MessageFactory.attachment(cards.attachment(card)))

    async def _replace_card(
        self, ctx: TurnContext, card: dict[str, Any], session: AsyncSession | None = None
    ) -> None:
        """Replace the card that was submitted, so it cannot be submitted twice; if Teams will
        not update it, send the new card instead."""
        if session is not None:
            await session.commit()  # end the (read) transaction before the network call
        reply_to = ctx.activity.reply_to_id
        if reply_to:
            activity = Activity(
                type=ActivityTypes.message,
                id=reply_to,
                attachments=[cards.attachment(card)],
            )
            try:
                await ctx.update_activity(activity)
                return
            except Exception as error:  # an old or deleted card: say it afresh
                log.warning("could not update card %s: %s", reply_to, error)
        await self._send_card(ctx, card)

    async def help(
        self, ctx: TurnContext, session: AsyncSession, person: Person, command: Command
    ) -> None:
        await self._send_card(ctx, cards.help_card(contact=await self._contact(session)), session)

    async def unknown_command(
        self, ctx: TurnContext, session: AsyncSession, person: Person, command: Command
    ) -> None:
        said = command.text[:80] + ("…" if len(command.text) > 80 else "")
        note = f"I didn't understand \u201c{said}\u201d." if said else ""
        await self._send_card(
            ctx, cards.help_card(note=note, contact=await self._contact(session)), session
        )

    async def my_measures(
        self, ctx: TurnContext, session: AsyncSession, person: Person, command: Command
    ) -> None:
        items = await returns.my_returns(
            session, person, self._today(), self.settings.default_scheme
        )
        await self._send_card(
            ctx, cards.my_measures_card(person.name, items, self._today()), session
        )

    async def status(
        self, ctx: TurnContext, session: AsyncSession, person: Person, command: Command
    ) -> None:
        try:
            items = await returns.service_status(
                session, person, self._today(), self.settings.default_scheme
            )
        except Refused as refusal:
            await self._say(session, ctx, str(refusal))
            return
        await self._send_card(ctx, cards.status_card(f"Status for {person.name}", items), session)

    async def _send_return_card(
        self, ctx: TurnContext, session: AsyncSession, person: Person, code: str, period: str | None
    ) -> None:
        measure = await returns.measure_by_code(session, code)
        if measure is None:
            await self._say(
                session,
                ctx,
                f"There is no measure {code.upper()!r}. Type my measures to see yours.",
            )
            return
        if not returns.can_submit(person, measure):
            await self._say(
                session,
                ctx,
                f"{measure.code} belongs to {measure.owner.name}; only its owner, a delegate or the "
                "performance team can send its return.",
            )
            return
        chosen = None
        if period:
            try:
                chosen = Period.parse(period)
            except PeriodError:
                chosen = None
        calendar = await load_calendar(session)
        item = await returns.open_return(
            session, measure, self._today(), self.settings.default_scheme, calendar, chosen
        )
        await self._send_card(ctx, cards.return_card(item, self._today()), session)

    async def submit_command(
        self, ctx: TurnContext, session: AsyncSession, person: Person, command: Command
    ) -> None:
        await self._send_return_card(ctx, session, person, command.args[0], None)

    async def open_return_card(
        self, ctx: TurnContext, session: AsyncSession, person: Person, sub: cards.Submission
    ) -> None:
        await self._send_return_card(ctx, session, person, sub.code, sub.period or None)

    async def snooze(
        self, ctx: TurnContext, session: AsyncSession, person: Person, command: Command
    ) -> None:
        code, until = command.args
        try:
            measure, period, day, capped = await returns.snooze(
                session, person, code, until, self.clock()
            )
        except Refused as refusal:
            await self._say(session, ctx, str(refusal))
            return
        await session.commit()
        when = f"{day:%A} {day.day} {day:%B %Y}"
        if capped:
            await ctx.send_activity(
                f"I can't snooze past the deadline, so reminders for {measure.code} ({period.label}) "
                f"will start again on the deadline, {when}."
            )
        else:
            await ctx.send_activity(
                f"OK: no reminders for {measure.code} ({period.label}) until {when}."
            )

    async def delegate(
        self, ctx: TurnContext, session: AsyncSession, person: Person, command: Command
    ) -> None:
        code, email = command.args
        try:
            measure, delegate, new = await returns.delegate(
                session, person, code, email, self.clock()
            )
        except Refused as refusal:
            await self._say(session, ctx, str(refusal))
            return
        await session.commit()
        if new:
            await ctx.send_activity(
                f"{delegate.name} can now send {measure.code}'s returns; they'll get the reminders "
                f"too. {measure.owner.name} stays accountable as owner."
            )
        else:
            await ctx.send_activity(f"{delegate.name} is already a delegate for {measure.code}.")

    # ---- card submissions ----------------------------------------------------------------

    async def submit_card(
        self, ctx: TurnContext, session: AsyncSession, person: Person, sub: cards.Submission
    ) -> None:
        fields = dict(sub.fields)
        confirmed = sub.confirmed
        if sub.use_suggestion:
            fields[cards.ids.ACTUAL] = confirmed = sub.use_suggestion
        command = SubmitReturn(
            person_id=person.id,
            code=sub.code,
            period=sub.period,
            actual=fields[cards.ids.ACTUAL],
            commentary=fields[cards.ids.COMMENTARY],
            action=fields[cards.ids.ACTION],
            action_due=fields[cards.ids.ACTION_DUE],
            status=fields[cards.ids.STATUS],
            confirmed=confirmed,
            card_id=ctx.activity.reply_to_id or ctx.activity.id or "",
        )
        if sub.too_long:
            await self._problems(
                ctx,
                session,
                sub,
                fields,
                FormProblems(
                    {
                        name: f"This is over {cards.MAX_TEXT:,} characters: please shorten it."
                        for name in sub.too_long
                    }
                ),
            )
            return
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            try:
                receipt = await returns.submit_return(
                    session, command, self.clock(), self.settings.default_scheme
                )
                await session.commit()
                break
            except Refused as refusal:
                await session.commit()  # the audit record of the refusal, nothing else
                await ctx.send_activity(str(refusal))
                return
            except FormProblems as problems:
                await session.rollback()
                await self._problems(ctx, session, sub, fields, problems)
                return
            except IntegrityError:
                # Another request stored a version of this return at the same moment: the
                # same card twice (the retry finds it by its idempotency key and answers with
                # its receipt), or another correction (the retry takes the next version).
                await session.rollback()
                if attempt == SUBMIT_ATTEMPTS:
                    raise
        await self._replace_card(ctx, cards.receipt_card(receipt))

    async def _problems(
        self,
        ctx: TurnContext,
        session: AsyncSession,
        sub: cards.Submission,
        fields: dict[str, str],
        problems: FormProblems,
    ) -> None:
        """Send the card back with what the person typed and what is wrong; nothing stored."""
        measure = await returns.measure_by_code(session, sub.code)
        assert measure is not None  # submit_return checked it before finding problems
        calendar = await load_calendar(session)
        item = await returns.open_return(
            session,
            measure,
            self._today(),
            self.settings.default_scheme,
            calendar,
            Period.parse(sub.period),
        )
        card = cards.return_card(
            item, self._today(), fields, problems.errors, str(problems), problems.doubt
        )
        await self._replace_card(ctx, card, session)

    async def not_available_card(
        self, ctx: TurnContext, session: AsyncSession, person: Person, sub: cards.Submission
    ) -> None:
        reason = sub.fields[cards.ids.REASON]
        try:
            measure, period, ask = await returns.not_available(
                session, person, sub.code, sub.period, reason, self.clock()
            )
        except Refused as refusal:
            await session.commit()
            await ctx.send_activity(str(refusal))
            return
        except FormProblems as problems:
            await session.rollback()
            await self._problems(ctx, session, sub, sub.fields, problems)
            return
        await session.commit()
        when = f"on {ask:%A} {ask.day} {ask:%B}" if ask else "when the figure is next due"
        await self._replace_card(
            ctx,
            cards.notice_card(
                f"Noted: {measure.code} for {period.label} is not available yet",
                f"Reason: {reason.strip()}. I'll ask you again {when}. You can send the figure "
                f"any time before then: type submit {measure.code}.",
            ),
        )
