"""When PerfBot may speak, and what each return is owed on a given day: reminders before the
deadline, polite chasers after it, and the overdue escalation (DESIGN.md "Cycle and rules").

Pure rules: days and times come in as arguments; nothing here reads a clock or a database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from domain.dates import LONDON
from domain.workdays import WorkingCalendar


class TimetableError(ValueError):
    """A reminder setting that cannot be used."""


@dataclass(frozen=True, slots=True)
class Cadence:
    """Working days before the deadline for reminders (0 is the day itself), after it for
    chasers, and after it for the overdue escalation to the escalation owner."""

    reminders: tuple[int, ...] = (5, 1, 0)
    chasers: tuple[int, ...] = (1, 3)
    escalate_after: int = 5

    @staticmethod
    def days(text: str, what: str) -> tuple[int, ...]:
        """``"5,1,0"`` -> (5, 1, 0); refuses anything but whole days from 0 to 60."""
        parts = [p.strip() for p in re.split(r"[,;\s]+", text.strip()) if p.strip()]
        try:
            days = tuple(sorted({int(p) for p in parts}, reverse=True))
        except ValueError:
            raise TimetableError(
                f"{what} '{text}' is not a list of working days such as 5,1,0"
            ) from None
        if not days or any(not 0 <= d <= 60 for d in days):
            raise TimetableError(
                f"{what} '{text}' must list working days from 0 to 60, such as 5,1,0"
            )
        return days

    def for_measure(self, reminder_days: str | None) -> Cadence:
        """This cadence with a measure's own reminder days (its ``reminder_days``), if set."""
        if not reminder_days:
            return self
        return Cadence(
            Cadence.days(reminder_days, "reminder_days"), self.chasers, self.escalate_after
        )


@dataclass(frozen=True, slots=True)
class Step:
    """One message a return is owed: its kind and its place in the timetable."""

    kind: str  # reminder, chaser, overdue
    label: str  # T-5, T-1, T, T+1, T+3, T+5
    day: date


def steps(deadline: date, calendar: WorkingCalendar, cadence: Cadence) -> list[Step]:
    """Every step for a return due on ``deadline``, in date order."""
    out = [
        Step(
            "reminder",
            f"T-{n}" if n else "T",
            calendar.add_working_days(deadline, -n) if n else deadline,
        )
        for n in cadence.reminders
    ]
    out += [
        Step("chaser", f"T+{n}", calendar.add_working_days(deadline, n)) for n in cadence.chasers
    ]
    out.append(
        Step(
            "overdue",
            f"T+{cadence.escalate_after}",
            calendar.add_working_days(deadline, cadence.escalate_after),
        )
    )
    return sorted(out, key=lambda s: (s.day, s.kind != "overdue"))


def next_ask(
    deadline: date, today: date, calendar: WorkingCalendar, cadence: Cadence
) -> date | None:
    """The next day, after today, on which PerfBot will remind or chase the owner about a
    return due on ``deadline``; None once the last chaser has gone."""
    for step in steps(deadline, calendar, cadence):
        if step.kind != "overdue" and step.day > today:
            return step.day
    return None


def due_step(
    deadline: date, today: date, calendar: WorkingCalendar, cadence: Cadence, kinds: set[str]
) -> Step | None:
    """The step a return is owed today, if it is of these kinds: the latest step that has
    fallen on or before today. After downtime this catches up once (the latest missed step),
    not once per missed day, and never sends a reminder once its deadline has passed; the
    outbox's unique reason keys stop a step being sent twice."""
    owed = [s for s in steps(deadline, calendar, cadence) if s.day <= today]
    if not owed or owed[-1].kind not in kinds:
        return None
    latest = owed[-1]
    # A chaser or reminder from long ago is not worth sending: only the last working week.
    if calendar.working_days_between(latest.day, today) > 5:
        return None
    return latest


@dataclass(frozen=True, slots=True)
class SendWindow:
    """When messages may go out: working days between two times, in a time zone; or always."""

    start: time | None = time(8, 0)
    end: time | None = time(18, 0)
    zone: ZoneInfo = LONDON

    @classmethod
    def parse(cls, text: str, zone: str = "Europe/London") -> SendWindow:
        """``08:00-18:00`` or ``always``."""
        try:
            tz = ZoneInfo(zone.strip())
        except Exception:  # zoneinfo raises several kinds for a bad key
            raise TimetableError(f"'{zone}' is not a time zone, such as Europe/London") from None
        raw = text.strip().lower()
        if raw == "always":
            return cls(None, None, tz)
        match = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", raw)
        if not match:
            raise TimetableError(f"'{text}' is not a send window: write 08:00-18:00, or always")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            start, end = time(h1, m1), time(h2, m2)
        except ValueError:
            raise TimetableError(f"'{text}' has a time that does not exist") from None
        if start >= end:
            raise TimetableError(f"'{text}' must start before it ends, as in 08:00-18:00")
        return cls(start, end, tz)

    @property
    def always(self) -> bool:
        return self.start is None

    def next_allowed(self, moment: datetime, calendar: WorkingCalendar) -> datetime:
        """``moment`` if a message may go then, else the start of the next allowed time.
        Local wall-clock times are kept through clock changes (08:00 stays 08:00)."""
        if self.always:
            return moment
        assert self.start is not None
        assert self.end is not None
        local = moment.astimezone(self.zone)
        day = local.date()
        if calendar.is_working_day(day) and self.start <= local.time() < self.end:
            return moment
        if not (calendar.is_working_day(day) and local.time() < self.start):
            day = calendar.add_working_days(day, 1)
        opening = datetime.combine(day, self.start, tzinfo=self.zone)
        return opening.astimezone(moment.tzinfo)


def last_working_morning(
    now: datetime, calendar: WorkingCalendar, at: time = time(9, 0), zone: ZoneInfo = LONDON
) -> datetime:
    """09:00 (London) on the last working day whose 09:00 has come: today's if today is one
    and it is past nine, else the working day before."""
    local = now.astimezone(zone)
    day = local.date() if local.time() >= at else date.fromordinal(local.date().toordinal() - 1)
    while not calendar.is_working_day(day):
        day = date.fromordinal(day.toordinal() - 1)
    return local_moment(day, at, zone)


def local_moment(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time on a day in a zone (09:00 is 09:00 in GMT and in BST)."""
    return datetime.combine(day, at, tzinfo=zone)
