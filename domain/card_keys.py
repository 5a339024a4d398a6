"""The keys PerfBot seals its cards' buttons with (cards/seal.py), kept in the database so
that a card sent last month still works after a restart, and so that every process (the
server, its dispatchers, the CLI) seals alike. The first key is made when first needed;
`perfbot card-keys rotate` adds a newer one, which seals from then on while the older ones
still open the cards already sent; `perfbot card-keys retire` ends the older ones."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import text as texts
from domain.audit import record
from domain.model import CardKey, Person
from domain.notifications import insert_ignoring_duplicates


def _new_secret() -> str:
    return secrets.token_urlsafe(32)  # 43 characters, 256 bits


async def in_use(session: AsyncSession, now: datetime) -> dict[int, str]:
    """The keys not retired, by id (the newest seals new cards); the first is made if there
    is none (two processes making it at once make one: the second's insert is ignored)."""
    live = await _live(session)
    if not live:
        await session.execute(
            insert_ignoring_duplicates(
                session, CardKey, {"id": 1, "secret": _new_secret(), "created_at": now}
            )
        )
        live = await _live(session)
    return {key.id: key.secret for key in live}


async def _live(session: AsyncSession) -> list[CardKey]:
    rows = await session.scalars(select(CardKey).where(CardKey.retired_at.is_(None)))
    return list(rows)


@dataclass(frozen=True)
class KeyInfo:
    """A key as `perfbot card-keys list` shows it (never its secret)."""

    id: int
    created_at: datetime
    retired_at: datetime | None
    signing: bool


async def listed(session: AsyncSession) -> list[KeyInfo]:
    keys = list(await session.scalars(select(CardKey).order_by(CardKey.id)))
    newest = max((k.id for k in keys if k.retired_at is None), default=None)
    return [KeyInfo(k.id, k.created_at, k.retired_at, k.id == newest) for k in keys]


async def rotate(session: AsyncSession, actor: str, now: datetime) -> int:
    """A new key, sealing every card from now on; the id of it."""
    newest = await session.scalar(select(func.max(CardKey.id)))
    key_id = (newest or 0) + 1
    session.add(CardKey(id=key_id, secret=_new_secret(), created_at=now))
    record(session, actor, "rotate card key", "card key", str(key_id), {}, now)
    return key_id


async def retire_older(session: AsyncSession, actor: str, now: datetime) -> list[int]:
    """Retire every key but the newest: a card sealed with one of them is refused from now
    on (its person is told to ask for a fresh one). The ids retired."""
    newest = await session.scalar(select(func.max(CardKey.id)).where(CardKey.retired_at.is_(None)))
    if newest is None:
        return []
    older = list(
        await session.scalars(
            select(CardKey.id).where(CardKey.retired_at.is_(None), CardKey.id != newest)
        )
    )
    if older:
        await session.execute(update(CardKey).where(CardKey.id.in_(older)).values(retired_at=now))
        record(session, actor, "retire card keys", "card key", str(newest), {"retired": older}, now)
    return older


async def refused_card(
    session: AsyncSession,
    person: Person,
    verb: str,
    names: str,
    why: str,
    now: datetime,
) -> None:
    """A button press whose seal does not hold: nothing done, and kept in the audit log,
    under the measure and period the card named (``names``, "RB-06 2026/27 Q2", so that
    `perfbot audit --measure RB-06` shows it) or else its verb."""
    shown_verb = texts.shown(verb[:64]) or "(no verb)"  # a hand-made card's may be anything
    record(
        session,
        person.email,
        "refused altered card",
        "return" if names else "card",
        texts.shown(names[:64]) if names else shown_verb,
        {"reason": why, "card": shown_verb},
        now,
    )
