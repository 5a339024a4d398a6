"""The audit log: every change PerfBot makes is recorded with who made it and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.model import AuditEntry


def record(
    session: AsyncSession,
    actor: str,
    action: str,
    entity: str,
    key: str,
    changes: dict[str, Any],
    at: datetime,
) -> None:
    """Add an audit entry to the session's transaction, so it stands or falls with the change."""
    session.add(
        AuditEntry(at=at, actor=actor, action=action, entity=entity, key=key, changes=changes)
    )


def audit_row(
    actor: str, action: str, entity: str, key: str, changes: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """An audit entry as the columns of one row, for a bulk insert in the transaction of the
    change (an import records hundreds of thousands: too many for an ORM object each)."""
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "entity": entity,
        "key": key,
        "changes": changes,
    }
