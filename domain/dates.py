"""Dates and times as people type them in spreadsheets and cards (UK order, or ISO)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")

_UK_DAY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_day(text: str) -> date:
    """``2025-07-18`` or the UK ``18/07/2025``; anything else is refused with an example."""
    raw = text.strip()
    match = _UK_DAY.match(raw)
    try:
        if match:
            day, month, year = (int(part) for part in match.groups())
            return date(year, month, day)
        return date.fromisoformat(raw[:10] if "T" in raw or " " in raw else raw)
    except ValueError:
        raise ValueError(f"'{raw}' is not a date: write it as 2025-07-18 or 18/07/2025") from None


def parse_moment(text: str, zone: ZoneInfo = LONDON) -> datetime:
    """A date, or a date and time; without an offset it is read as local time in ``zone``.

    A bare date means the start of that day. The result is in UTC.
    """
    raw = text.strip()
    match = _UK_DAY.match(raw.split(" ")[0]) if raw else None
    try:
        if match:
            day = parse_day(raw.split(" ")[0])
            rest = raw.split(" ", 1)[1] if " " in raw else "00:00"
            moment = datetime.fromisoformat(f"{day.isoformat()}T{rest.strip()}")
        else:
            moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"'{raw}' is not a date and time: write it as 2025-07-18 10:30 or 18/07/2025 10:30"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def long_day(day: date, *, year: bool = True) -> str:
    """A day as PerfBot writes it to people: "Friday 20 November 2026" (or without the year)."""
    text = f"{day:%A} {day.day} {day:%B}"
    return f"{text} {day:%Y}" if year else text


def parse_yes_no(text: str) -> bool:
    word = text.strip().lower()
    if word in ("yes", "y", "true", "1"):
        return True
    if word in ("no", "n", "false", "0", ""):
        return False
    raise ValueError(f"'{text.strip()}' is not yes or no")
