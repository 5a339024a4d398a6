"""Where PerfBot can reach people proactively: the conversation reference of each chat it is
in, stored from installs and messages (the Teams handler) and from chats it opens itself (the
dispatcher), through the one use case in domain/conversations.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from bot.connector import write_model
from domain import conversations, people
from domain.model import Person
from domain.uow import UnitOfWork

log = logging.getLogger("perfbot.bot")

STORED_CONVERSATIONS = 50_000  # conversations whose stored reference this process remembers


def _reference(activity: Activity) -> dict[str, Any]:
    reference = TurnContext.get_conversation_reference(activity)
    reference.activity_id = None  # where to reach them, not the message they last sent
    return write_model(reference)


def tenant_of(activity: Any) -> str:
    """The Entra tenant an activity comes from, as Teams gives it (in the conversation and in
    channelData), lower-case; "" if it gives none, or two that disagree (so that the tenant
    checked is always the tenant stored)."""
    conversation = getattr(activity, "conversation", None)
    given = getattr(conversation, "tenant_id", None)
    data = getattr(activity, "channel_data", None)
    tenant = data.get("tenant") if isinstance(data, dict) else None
    inside = tenant.get("id") if isinstance(tenant, dict) else None
    found = {t.strip().lower() for t in (given, inside) if isinstance(t, str) and t.strip()}
    return found.pop() if len(found) == 1 else ""


def reference_values(activity: Activity, person: Person | None) -> dict[str, Any]:
    """What is stored of the conversation ``activity`` came from: where to reach it, and
    (in a personal chat) whose it is."""
    channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    sender = activity.from_property
    values: dict[str, Any] = {
        "scope": activity.conversation.conversation_type or "personal",
        "tenant_id": tenant_of(activity) or None,
        "user_id": sender.id if sender else None,
        "aad_object_id": sender.aad_object_id if sender else None,
        "team_id": (channel_data.get("team") or {}).get("id"),
        "service_url": activity.service_url,
        "bot_id": activity.recipient.id if activity.recipient else None,
        "reference": _reference(activity),
    }
    if person is not None and values["scope"] == "personal":
        values["person_id"] = person.id
    if values["scope"] != "personal":
        names = _names(channel_data)
        if names:  # kept beside the reference (never sent): `perfbot leadership` names them
            values["reference"]["names"] = names
    return values


def _names(channel_data: dict[str, Any]) -> dict[str, str]:
    team = channel_data.get("team") or {}
    channel = channel_data.get("channel") or {}
    names = {"team": team.get("name"), "channel": channel.get("name")}
    return {key: value for key, value in names.items() if isinstance(value, str) and value}


def channel_values(activity: Activity) -> tuple[str, dict[str, Any]]:
    """The team channel a message came from and what is stored to post there. A message in a
    channel comes from its thread ("19:…@thread.tacv2;messageid=1234"); PerfBot posts to
    the channel itself, a new conversation of its own, so the thread's id is left off."""
    channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    channel_id = (channel_data.get("channel") or {}).get("id") or activity.conversation.id.split(
        ";messageid="
    )[0]
    values = reference_values(activity, None)
    values["scope"] = "channel"
    values["reference"]["conversation"]["id"] = channel_id
    return channel_id, values


class References:
    """Stores conversation references, remembering what this process last stored (or found
    stored) for each conversation, so that an ordinary message, which nearly always comes
    from where the last one did, needs no database round to say so. Installs always go to
    the database (another server may have handled an uninstall in between)."""

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Callable[[], datetime],
        queued_again: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow = uow
        self.clock = clock
        # Told when someone reachable again has messages queued for them again (the server
        # wakes its dispatcher).
        self.queued_again = queued_again
        self._stored: dict[str, dict[str, Any]] = {}

    async def remember(
        self, activity: Activity, person: Person | None, fresh: bool = False
    ) -> bool:
        """Store or refresh where this conversation can be reached; True if it is new. Unless
        ``fresh``, what this process stored a moment ago for it is taken as still stored.
        Someone who talks to PerfBot in their personal chat is reachable again."""
        values = reference_values(activity, person)
        user_id = values["user_id"]
        conversation_id = activity.conversation.id
        created = False
        if fresh or self._stored.get(conversation_id) != values:
            if len(self._stored) >= STORED_CONVERSATIONS:
                self._stored.clear()
            now = self.clock()
            created = await self.uow.run(
                lambda tx: conversations.store(tx, conversation_id, values, now)
            )
            self._stored[conversation_id] = values
            if created:
                log.info("stored the conversation reference for %s", conversation_id)
        # Only once their chat is stored: what waited for them then goes into it.
        if (
            person is not None
            and "person_id" in values
            and (person.unreachable_reason or (user_id and person.teams_user_id != user_id))
        ):
            now = self.clock()
            again = await self.uow.run(
                lambda tx: people.reachable_again(tx, person.id, user_id, now)
            )
            if again:
                log.info("queued %d messages again for %s", len(again), person.email)
                self.queued_again()
        return created

    async def remember_channel(self, activity: Activity) -> str:
        """A message typed in a team channel: the channel (not its thread) is stored, so that
        `perfbot leadership set-channel` knows it by name and PerfBot can post there. Its id."""
        channel_id, values = channel_values(activity)
        if self._stored.get(channel_id) != values:
            if len(self._stored) >= STORED_CONVERSATIONS:
                self._stored.clear()
            now = self.clock()
            await self.uow.run(lambda tx: conversations.store(tx, channel_id, values, now))
            self._stored[channel_id] = values
        return channel_id

    async def remember_created(self, activity: Activity, person: Person | None) -> None:
        """A 1:1 chat PerfBot has just opened to message someone (Teams gives back the
        existing chat if there is one, which is then left as it is)."""
        values: dict[str, Any] = {
            "scope": "personal",
            "person_id": person.id if person else None,
            "tenant_id": activity.conversation.tenant_id or None,
            "user_id": person.teams_user_id if person else None,
            "service_url": activity.service_url,
            "bot_id": activity.recipient.id if activity.recipient else None,
            "reference": _reference(activity),
        }
        now = self.clock()
        conversation_id = activity.conversation.id
        await self.uow.run(
            lambda tx: conversations.store(tx, conversation_id, values, now, refresh=False)
        )

    async def forget(self, conversation_id: str) -> None:
        """PerfBot was uninstalled there. Someone who removes it from their personal chat
        cannot be reached until they add it again (Teams would refuse a new chat too)."""
        self._stored.pop(conversation_id, None)
        now = self.clock()
        await self.uow.run(lambda tx: conversations.forget(tx, conversation_id, now))
        log.info("removed the conversation reference for %s", conversation_id)
