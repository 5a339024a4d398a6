"""The Teams activity handler: installs, identity, and routing each message to a typed
command or a card action. Everything a person sees is a sentence or a card; no stack trace."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.schema.teams import TeamInfo, TeamsChannelAccount
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.references import References
from bot.settings import Settings
from bot.teams import commands
from bot.teams.card_actions import CARD_ACTIONS
from bot.teams.replies import Replies, ReplyRetry
from bot.teams.turn import BotServices, Turn, contact_line, contact_of, send_card
from cards import render as cards
from cards.actions import parse_action
from domain import people
from domain.model import Person, Role
from domain.uow import UnitOfWork

log = logging.getLogger("perfbot.bot")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def tenant_of(activity: Any) -> str:
    """The Entra tenant an activity comes from, as Teams gives it ("" if it gives none)."""
    conversation = getattr(activity, "conversation", None)
    found = getattr(conversation, "tenant_id", None)
    data = getattr(activity, "channel_data", None)
    if not found and isinstance(data, dict) and isinstance(data.get("tenant"), dict):
        found = data["tenant"].get("id")
    return found.strip().lower() if isinstance(found, str) else ""


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
    ) -> None:
        uow = UnitOfWork(sessions)
        self.services = BotServices(
            settings, uow, clock, references or References(uow, clock), reply_retry or ReplyRetry()
        )

    async def on_turn(self, turn_context: TurnContext) -> None:
        """Every turn replies through its ``Replies``, whose time starts now; a turn from
        another tenant's Teams than the council's (a single-tenant bot's) is refused."""
        services = self.services
        settings = services.settings
        if settings.authenticated and settings.app_type == "SingleTenant":
            tenant = tenant_of(turn_context.activity)
            if tenant != settings.app_tenant_id.lower():
                await services.uow.run(lambda tx: people.other_tenant(tx, tenant, services.clock()))
                log.warning(
                    "refused a %s from tenant %r: PerfBot serves the tenant %s only",
                    turn_context.activity.type,
                    tenant[:64],
                    settings.app_tenant_id,
                )
                return  # nothing stored, nothing sent
        Replies.start(turn_context, services.uow, services.clock, services.reply_retry)
        await super().on_turn(turn_context)

    # ---- installs ------------------------------------------------------------------------

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._installed(turn_context)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        await self.services.references.forget(turn_context.activity.conversation.id)

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
        person = await self._identify(ctx) if _personal(ctx) else None
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
            await self._unknown_person(ctx)
            return
        contact = await contact_line(self.services.uow)
        welcome = cards.welcome_card(
            commands.help_lines(),
            person.name,
            contact,
            escalation_owner=person.has_role(Role.ESCALATION_OWNER),
            leadership=person.has_role(Role.LEADERSHIP),
        )
        await send_card(ctx, welcome)

    # ---- identity ------------------------------------------------------------------------

    async def _identify(self, ctx: TurnContext) -> Person | None:
        """The staff record of whoever sent this: by Entra object id, else by the email Teams
        gives for them (a member lookup, made outside any transaction)."""
        sender = ctx.activity.from_property
        aad = getattr(sender, "aad_object_id", None)
        uow = self.services.uow
        now = self.services.clock()
        person = await uow.run(lambda tx: people.find_person(tx, aad, None, now))
        if person is not None:
            return person
        email = None
        try:
            member = await TeamsInfo.get_member(ctx, sender.id)
            email = member.email or member.user_principal_name
            aad = aad or member.aad_object_id
        except Exception as error:  # the member lookup is a courtesy; its failure is not fatal
            log.warning("could not look up Teams member %s: %s", sender.id, error)
        # Keeps an Entra id learned from the member lookup.
        return await uow.run(lambda tx: people.find_person(tx, aad, email, now))

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
        person = await self._identify(ctx)
        if person is None:
            await self._unknown_person(ctx)
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
            await turn.say(
                "That card is not one PerfBot recognises, so nothing was saved. Type my measures "
                "for a fresh one."
            )
            return
        await CARD_ACTIONS[action.verb](turn, action)
