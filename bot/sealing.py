"""Sealing every card PerfBot sends, and checking the seal of every button pressed
(cards/seal.py has the rule, domain/card_keys.py the keys). The seal is put on in one
place: a botbuilder middleware on the adapter, which sees every activity sent or updated,
in reply to a person or proactively by the dispatcher. So no card leaves unsealed, however
it was built."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from botbuilder.core import Middleware, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from bot.connector import PerfBotAuthentication
from bot.settings import Settings
from cards import render as cards
from cards.seal import Broken, Keyring, UnknownKey, check, key_of, seal
from domain import card_keys
from domain.uow import UnitOfWork

log = logging.getLogger("perfbot.cards")

FRESH_FOR = 60.0  # seconds a process trusts its copy of the keys (a rotation shows by then)


class CardKeys:
    """This process's copy of the council's card keys, read from the database when first
    needed and again every FRESH_FOR seconds, or at once when a card names a key it does not
    hold (one made by `perfbot card-keys rotate` since)."""

    def __init__(self, uow: UnitOfWork, clock: Callable[[], datetime]) -> None:
        self.uow = uow
        self.clock = clock
        self._keyring: Keyring | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    async def ready(self) -> Keyring:
        if self._keyring is None or time.monotonic() - self._read_at > FRESH_FOR:
            await self._read(force=False)
        assert self._keyring is not None
        return self._keyring

    async def _read(self, force: bool) -> Keyring:
        async with self._lock:
            fresh = time.monotonic() - self._read_at <= FRESH_FOR / 2
            if self._keyring is None or force or not fresh:
                keys = await self.uow.run(lambda tx: card_keys.in_use(tx, self.clock()))
                self._keyring = Keyring(keys, max(keys))
                self._read_at = time.monotonic()
            return self._keyring

    async def check(self, value: Mapping[str, Any]) -> None:
        """Raise Broken unless the button's seal holds. A card sealed with a key other than
        the one this process seals with is checked against the keys as the database has
        them at this moment (a key retired a second ago opens nothing, one made since is
        found); the sealing key itself is trusted for up to FRESH_FOR seconds after its
        retirement, until this process reads the keys again."""
        keyring = await self.ready()
        if key_of(value) != keyring.signing:
            keyring = await self._read(force=True)
        check(value, keyring)


def _sealed(attachment: Any, keyring: Keyring) -> Any:
    """An attachment with its Adaptive Card sealed (a copy); any other as it was. PerfBot's
    cards go out as cards.attachment() makes them: a dict."""
    if isinstance(attachment, dict):
        card = attachment.get("content")
        if attachment.get("contentType") == cards.CONTENT_TYPE and isinstance(card, dict):
            return {**attachment, "content": seal(card, keyring)}
    return attachment


def _seal_activity(activity: Activity, keyring: Keyring) -> None:
    if activity.attachments:
        activity.attachments = [_sealed(a, keyring) for a in activity.attachments]


class SealCards(Middleware):  # type: ignore[misc]  # botbuilder is untyped
    """Seals the cards of every activity a turn sends or updates."""

    def __init__(self, keys: CardKeys) -> None:
        self.keys = keys

    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable[None]]) -> None:
        keyring = await self.keys.ready()

        async def sending(
            ctx: TurnContext, activities: list[Activity], next_send: Callable[[], Awaitable[Any]]
        ) -> Any:
            for activity in activities:
                _seal_activity(activity, keyring)
            return await next_send()

        async def updating(
            ctx: TurnContext, activity: Activity, next_update: Callable[[], Awaitable[Any]]
        ) -> Any:
            _seal_activity(activity, keyring)
            return await next_update()

        context.on_send_activities(sending)
        context.on_update_activity(updating)
        await logic()


def make_adapter(
    settings: Settings, uow: UnitOfWork, clock: Callable[[], datetime]
) -> tuple[CloudAdapter, PerfBotAuthentication, CardKeys]:
    """The one way PerfBot makes its botbuilder adapter (the server, a dispatcher process,
    the benchmarks): authenticated as the settings say, sealing every card it sends."""
    authentication = PerfBotAuthentication(settings)
    adapter = CloudAdapter(authentication)
    keys = CardKeys(uow, clock)
    adapter.use(SealCards(keys))
    return adapter, authentication, keys


__all__ = ["Broken", "CardKeys", "SealCards", "UnknownKey", "make_adapter"]
