"""The Teams activity handler: installs, identity, and routing each message to a typed
command or a card action. Everything a person sees is a sentence or a card; no stack trace."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.schema import ChannelAccount
from botbuilder.schema.teams import TeamInfo, TeamsChannelAccount
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.references import References, tenant_of
from bot.sealing import Broken, CardKeys, UnknownKey
from bot.settings import Settings
from bot.teams import commands
from bot.teams.card_actions import CARD_ACTIONS
from bot.teams.replies import Replies, ReplyRetry
from bot.teams.turn import BotServices, Turn, contact_line, contact_of, send_card
from cards import render as cards
from cards.actions import Verb, parse_action
from cards.seal import FRESH
from domain import card_keys, people, views
from domain.model import Person, Role
from domain.people import OtherAccount
from domain.uow import UnitOfWork

log = logging.getLogger("perfbot.bot")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _entra_id(value: object) -> str | None:
    """An Entra object id as an activity or a member lookup gives it: a short word of
    letters, digits and dashes (a GUID in Teams), else none."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if (
        not text
        or len(text) > 64
        or not all(c.isascii() and (c.isalnum() or c == "-") for c in text)
    ):
        return None
    return text


def _personal(ctx: TurnContext) -> bool:
    return (ctx.activity.conversation.conversation_type or "personal") == "personal"


class PerfBot(TeamsActivityHandler):  # type: ignore[misc]  # botbuilder is untyped
    """Answers people in Teams."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock = utc_now,
        references: References | None = None,
        reply_retry: ReplyRetry | None = None,
        card_keys: CardKeys | None = None,
        stopping: asyncio.Event | None = None,
    ) -> None:
        uow = UnitOfWork(sessions)
        self.services = BotServices(
            settings,
            uow,
            clock,
            references or References(uow, clock),
            card_keys or CardKeys(uow, clock),
            reply_retry or ReplyRetry(),
            stopping or asyncio.Event(),
        )

    async def on_turn(self, turn_context: TurnContext) -> None:
        """Every turn replies through its ``Replies``, whose time starts now; a turn from
        another tenant's Teams than the council's (PERFBOT_TENANT_ID, or a single-tenant
        bot's own) is refused and audited."""
        services = self.services
        settings = services.settings
        if settings.served_tenant:
            tenant = tenant_of(turn_context.activity)
            if tenant != settings.served_tenant:
                await services.uow.run(lambda tx: people.other_tenant(tx, tenant, services.clock()))
                log.warning(
                    "refused a %s from tenant %r: PerfBot serves the tenant %s only",
                    turn_context.activity.type,
                    tenant[:64],
                    settings.served_tenant,
                )
                return  # nothing stored, nothing sent
        Replies.start(
            turn_context, services.uow, services.clock, services.reply_retry, services.stopping
        )
        await super().on_turn(turn_context)

    # ---- installs ------------------------------------------------------------------------

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._installed(turn_context)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        await self.services.references.forget(turn_context.activity.conversation.id)

    async def on_teams_members_added_dispatch(
        self,
        members_added: list[ChannelAccount],
        team_info: TeamInfo,
        turn_context: TurnContext,
    ) -> None:
        """Who was added, as the activity says, with no member lookup each (botbuilder looks
        up every one, and a member who has left since fails the turn): PerfBot only asks
        whether it was itself."""
        added = [TeamsChannelAccount(id=m.id, name=m.name) for m in members_added]
        await self.on_teams_members_added(added, team_info, turn_context)

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
            await self.services.references.forget(turn_context.activity.conversation.id)

    async def _installed(self, ctx: TurnContext) -> None:
        found = await self._identify(ctx) if _personal(ctx) else None
        person = found if isinstance(found, Person) else None
        created = await self.services.references.remember(ctx.activity, person, fresh=True)
        if not created:
            return  # both installationUpdate and conversationUpdate arrive: welcome once
        if not _personal(ctx):
            await send_card(
                ctx,
                cards.notice_card(
                    "PerfBot is here",
                    "PerfBot is installed in this team. Measure owners hear from it in their "
                    "personal chat. The performance team can type set leadership channel in a "
                    "channel of this team to have the Leadership Team's weekly summary posted "
                    "there; until then nothing is posted here.",
                ),
            )
            return
        if person is None:
            await self._not_known(ctx, None if isinstance(found, Person) else found)
            return
        contact = await contact_line(self.services.uow)
        async with self.services.uow() as tx:
            code, frequency = await views.example_code(tx, person)
        welcome = cards.welcome_card(
            commands.help_lines(code, views.today_in_london(self.services.clock()), frequency),
            person.name,
            contact,
            escalation_owner=person.has_role(Role.ESCALATION_OWNER),
            leadership=person.has_role(Role.LEADERSHIP),
        )
        await send_card(ctx, welcome)

    # ---- identity ------------------------------------------------------------------------

    async def _identify(self, ctx: TurnContext) -> Person | OtherAccount | None:
        """The staff record of whoever sent this: by Entra object id, else by the email Teams
        gives for them (a member lookup, made outside any transaction). What Teams says of
        its member wins over what the activity says: an activity whose Entra id is not the
        member's is refused (audited), and a stored Entra id is never replaced. A person's
        own Teams account, as linked before (or the first one seen), is known without a
        lookup."""
        sender = ctx.activity.from_property
        aad = _entra_id(getattr(sender, "aad_object_id", None))
        uow = self.services.uow
        now = self.services.clock()
        if aad:
            entra: str = aad
            person = await uow.read(lambda tx: people.by_entra_id(tx, entra))
            if person is not None and person.teams_user_id in (None, sender.id):
                return person  # the Teams account PerfBot linked before, or a first one
            # Another Teams account names this linked Entra id: Teams' own record of the
            # member decides, below.
        email = None
        try:
            member = await TeamsInfo.get_member(ctx, sender.id)
        except Exception as error:  # the member lookup is a courtesy; its failure is not fatal
            log.warning("could not look up Teams member %s: %s", sender.id, error)
        else:
            email = member.email or member.user_principal_name
            known = _entra_id(member.aad_object_id)
            if aad and known and known != aad:  # the activity is not what Teams says of it
                who, claimed = (email if isinstance(email, str) else "") or str(sender.id)[:64], aad
                await uow.run(
                    lambda tx: people.other_account(
                        tx, who, claimed, "not the Entra id Teams gives for this member", now
                    )
                )
                return people.OtherAccount(who)
            aad = known or aad
        if not isinstance(email, str):
            email = None
        # Keeps an Entra id learned from the member lookup (for a person with none yet).
        return await uow.run(lambda tx: people.find_person(tx, aad, email, now))

    async def _sender(self, ctx: TurnContext) -> Person | None:
        """Who sent this, or None once they have been told PerfBot cannot act for them."""
        found = await self._identify(ctx)
        if isinstance(found, Person):
            return found
        await self._not_known(ctx, found)
        return None

    async def _not_known(self, ctx: TurnContext, found: OtherAccount | None) -> None:
        if found is None:
            await self._unknown_person(ctx)
            return
        contact = await contact_line(self.services.uow)
        await Replies.of(ctx).say(
            "This Teams account is not the one PerfBot has on record for you, so I can't act "
            f"on it; if your account has changed, please ask {contact} to update the people "
            "sheet."
        )

    async def _unknown_person(self, ctx: TurnContext) -> None:
        sender = ctx.activity.from_property
        now = self.services.clock()
        admins = await self.services.uow.run(
            lambda tx: people.unknown_person_tried(
                tx, sender.aad_object_id or sender.id, sender.name or "", None, now
            )
        )
        contact = contact_of(admins)
        await Replies.of(ctx).say(
            f"Hello{' ' + sender.name if sender.name else ''}. I'm PerfBot, the council's "
            "performance reporting assistant, but I can't find you in the list of measure "
            f"owners, so I can't show you any measures yet. If you should be on it, please "
            f"contact {contact}. I've let them know you tried."
        )

    # ---- messages ------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        ctx = turn_context
        person = await self._sender(ctx)
        if person is None:
            return
        if _personal(ctx):
            await self.services.references.remember(ctx.activity, person)
        elif ctx.activity.conversation.conversation_type == "channel":
            await self.services.references.remember_channel(ctx.activity)
        turn = Turn(ctx, person, self.services)
        value = ctx.activity.value
        if value is None:
            await commands.dispatch(turn, ctx.activity.text or "")
            return
        action = parse_action(value)
        if action is None:
            verb = value.get("verb") if isinstance(value, dict) else None
            await self._refused_card(turn, value, verb if isinstance(verb, str) else "", None)
            await turn.say(
                "That card is not one PerfBot recognises, so nothing was saved. Type my measures "
                "for a fresh one."
            )
            return
        try:
            await self.services.keys.check(value)
        except Broken as broken:
            await self._refused_card(turn, value, action.verb, broken)
            fresh = FRESH[Verb(action.verb)]
            if isinstance(broken, UnknownKey):  # sealed with a key since retired
                await turn.say(
                    "That card is an older one PerfBot no longer accepts, so nothing was saved. "
                    f"Type {fresh} for a fresh card."
                )
            else:
                await turn.say(
                    "That card has been changed since PerfBot sent it (or is from before "
                    f"PerfBot sealed its cards), so nothing was saved. Type {fresh} for a fresh "
                    "card."
                )
            return
        if action.refused:  # text that cannot be stored: said, nothing read, the card left
            await turn.say(action.refused)
            return
        await CARD_ACTIONS[action.verb](turn, action)

    async def _refused_card(self, turn: Turn, value: Any, verb: str, broken: Broken | None) -> None:
        """A button PerfBot did not seal as it comes (altered, hand-made, an unknown verb,
        a retired key): nothing done, kept in the audit log under what it named."""
        why = str(broken) if broken else "not one of PerfBot's cards"
        log.warning("refused a %s card from person %s: %s", verb[:64], turn.person.id, why)
        names = ""
        if isinstance(value, dict) and isinstance(value.get("code"), str):
            period = value.get("period")
            names = f"{value['code']} {period if isinstance(period, str) else ''}".strip()
        now = turn.now
        await turn.uow.run(
            lambda tx: card_keys.refused_card(tx, turn.person, verb, names, why, now)
        )
