"""The database model: SQLAlchemy 2 typed declarative classes for the council's records."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    relationship,
)

from domain.numbers import Unit
from domain.periods import Frequency
from domain.ratings import MeasureRule, Polarity, Scheme, measure_rule


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal kept as its exact text, so SQLite (which has no decimal type) and
    PostgreSQL give back the very digits that went in."""

    impl = String(48)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"{value!r} is not a finite Decimal")
        return str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; SQLite keeps no zone, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; PerfBot stores aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _words(enum_class: type[enum.Enum]) -> Enum:
    """Store an enum as its spreadsheet word (not its Python name), without a native type."""
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class Role(enum.StrEnum):
    OWNER = "owner"
    ESCALATION_OWNER = "escalation_owner"
    LEADERSHIP = "leadership"
    ADMIN = "admin"


class MeasureKind(enum.StrEnum):
    MEASURE = "measure"
    KEY_ACTION = "key_action"


class ReturnState(enum.StrEnum):
    DUE = "due"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETURNED = "returned"


class NotificationState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    CANCELLED = "cancelled"
    FAILED = "failed"


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        Decimal: ExactDecimal(),
        datetime: UTCDateTime(),
        date: Date(),
        str: String(255),
        dict[str, Any]: JSON(),
        Unit: _words(Unit),
        Polarity: _words(Polarity),
        Frequency: _words(Frequency),
        Scheme: _words(Scheme),
        Role: _words(Role),
        MeasureKind: _words(MeasureKind),
        ReturnState: _words(ReturnState),
        NotificationState: _words(NotificationState),
    }


class Service(Base):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    # Who hears of the service's escalations when its escalation owner cannot be reached
    # (a Service Director or the service's member of the Leadership Team).
    leadership_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", use_alter=True)  # people point at services too
    )


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(unique=True)  # always lower case
    name: Mapped[str]
    aad_object_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    teams_user_id: Mapped[str | None]  # "29:..." once seen in Teams: needed to open a chat
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    unreachable_reason: Mapped[str | None] = mapped_column(Text)
    unreachable_since: Mapped[datetime | None]

    role_rows: Mapped[list[PersonRole]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(row.role for row in self.role_rows)

    def has_role(self, role: Role) -> bool:
        return role in self.roles


class PersonRole(Base):
    __tablename__ = "person_roles"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[Role] = mapped_column(primary_key=True)


class Delegate(Base):
    __tablename__ = "delegates"

    measure_id: Mapped[int] = mapped_column(
        ForeignKey("measures.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )


class Measure(Base):
    """A performance indicator, or a key action (qualitative: reported by status)."""

    __tablename__ = "measures"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[MeasureKind] = mapped_column(default=MeasureKind.MEASURE)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    portfolio: Mapped[str | None]  # the Cabinet portfolio it is reported to, e.g. "Housing"
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    escalation_owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    unit: Mapped[Unit] = mapped_column(default=Unit.NUMBER)
    polarity: Mapped[Polarity] = mapped_column(default=Polarity.HIGHER)
    frequency: Mapped[Frequency] = mapped_column(default=Frequency.QUARTERLY)
    decimals: Mapped[int] = mapped_column(Integer, default=0)
    scheme: Mapped[Scheme | None]  # None: the council's default
    tolerance: Mapped[str | None] = mapped_column(String(32))  # "5%" or "3", as typed
    data_only: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    deadline_working_days: Mapped[int] = mapped_column(Integer, default=15)
    reminder_days: Mapped[str | None] = mapped_column(String(32))  # "5,1,0"; None: council's
    due_date: Mapped[date | None]  # key actions: when the action should be complete
    # A year-to-date figure (council tax collected in year): compared with the same period
    # of earlier years, never with the period before (domain/profiles.py).
    cumulative: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    # Loaded with the measure in one query (joins), so that no lazy load hides I/O.
    service: Mapped[Service] = relationship(lazy="joined", innerjoin=True)
    owner: Mapped[Person] = relationship(foreign_keys=[owner_id], lazy="joined", innerjoin=True)
    escalation_owner: Mapped[Person | None] = relationship(
        foreign_keys=[escalation_owner_id], lazy="joined"
    )
    delegates: Mapped[list[Person]] = relationship(
        secondary="delegates", lazy="selectin", order_by="Person.email"
    )
    priority_rows: Mapped[list[MeasurePriority]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="MeasurePriority.position"
    )

    @property
    def priorities(self) -> tuple[str, ...]:
        """Its Council Plan priorities, in the order the council lists them (none, one or
        several: seed 002 reports one activity under several)."""
        return tuple(row.name for row in self.priority_rows)

    @property
    def is_key_action(self) -> bool:
        return self.kind is MeasureKind.KEY_ACTION

    def rule(self, default_scheme: Scheme) -> MeasureRule:
        return measure_rule(
            self.polarity, self.scheme, self.unit, self.decimals, self.tolerance, default_scheme
        )


class MeasurePriority(Base):
    """One of a measure's Council Plan priorities; ``position`` 1 is the first listed."""

    __tablename__ = "measure_priorities"
    __table_args__ = (UniqueConstraint("measure_id", "name"),)

    measure_id: Mapped[int] = mapped_column(
        ForeignKey("measures.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str]


class Target(Base):
    """A measure's target for one period; targets are profiled, so each period has its own."""

    __tablename__ = "targets"
    __table_args__ = (UniqueConstraint("measure_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(16))
    value: Mapped[Decimal]


class Benchmark(Base):
    """A comparator group's figure for a measure (seed 001: the England average, English
    county councils, statistical or CIPFA nearest neighbours; seed 004's sources: LG Inform,
    CIPFA, ...), optionally with the group's quartile boundaries. A row per period: a
    figure is set beside its own period's row of each group, else the latest earlier one; a
    row without a period stands for any period that has none (domain/benchmarks.py)."""

    __tablename__ = "benchmarks"
    # A row without a period is unique by import (NULLs are never equal in a constraint).
    __table_args__ = (UniqueConstraint("measure_id", "comparator", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"))
    period: Mapped[str | None] = mapped_column(String(16))
    comparator: Mapped[str]  # the group, as the council names it: "England"
    value: Mapped[Decimal]  # the group's average (or median, as the source gives it)
    lower_quartile: Mapped[Decimal | None]  # the three quartile boundaries, all or none
    median: Mapped[Decimal | None]
    upper_quartile: Mapped[Decimal | None]
    source: Mapped[str | None]  # "LG Inform", "CIPFA", "DLUHC"


class Return(Base):
    """One version of a measure's return for a period. A correction adds a version."""

    __tablename__ = "returns"
    __table_args__ = (UniqueConstraint("measure_id", "period", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    value: Mapped[Decimal | None]
    status: Mapped[str | None] = mapped_column(String(32))  # key actions: KeyActionStatus
    exceeding_expectations: Mapped[bool] = mapped_column(Boolean, default=False)
    commentary: Mapped[str | None] = mapped_column(Text)
    remedial_action: Mapped[str | None] = mapped_column(Text)
    action_due: Mapped[date | None]
    not_available_reason: Mapped[str | None] = mapped_column(Text)
    state: Mapped[ReturnState] = mapped_column(default=ReturnState.SUBMITTED)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    submitted_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16), default="teams")  # teams, import, admin
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    # Sign-off: who approved it, or returned it to its owner with a comment, and when.
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reviewed_at: Mapped[datetime | None]
    review_comment: Mapped[str | None] = mapped_column(Text)
    # A restatement: a figure changed after its period was signed off (or published), with
    # the figure it replaced as it was shown, and the reason the corrector gave.
    restated: Mapped[bool] = mapped_column(Boolean, default=False)
    restated_from: Mapped[str | None] = mapped_column(Text)
    correction_reason: Mapped[str | None] = mapped_column(Text)


class ReturnAnswer(Base):
    """One version of a return's answer to one review question (domain/questions.py): kept
    apart from the commentary, a row a question answered."""

    __tablename__ = "return_answers"

    return_id: Mapped[int] = mapped_column(
        ForeignKey("returns.id", ondelete="CASCADE"), primary_key=True
    )
    question: Mapped[str] = mapped_column(String(16), primary_key=True)
    answer: Mapped[str] = mapped_column(Text)


class Milestone(Base):
    """A dated step of a key action or project (seed 002's "project milestones"), with its
    own owner; past its date (the revised date, if one is given) and not complete it counts
    as unlikely, and is escalated to the key action's escalation owner."""

    __tablename__ = "milestones"
    __table_args__ = (UniqueConstraint("measure_id", "title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    due_date: Mapped[date]
    completed_on: Mapped[date | None]
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # None: the key action's
    status: Mapped[str | None] = mapped_column(String(32))  # KeyActionStatus; None: not reported
    revised_date: Mapped[date | None]  # when it is now expected, if it has slipped
    updated_at: Mapped[datetime | None]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))

    measure: Mapped[Measure] = relationship(lazy="joined", innerjoin=True)
    owner: Mapped[Person | None] = relationship(foreign_keys=[owner_id], lazy="joined")

    @property
    def expected(self) -> date:
        """The day it is now expected: the revised date, else the date it was due."""
        return self.revised_date or self.due_date


class ActionPlanStatus(enum.StrEnum):
    """An action-plan item's stored state; "late" is not stored: an open item past its date."""

    OPEN = "open"
    DONE = "done"
    DROPPED = "dropped"


class ActionPlan(Base):
    """An action-plan item: a corrective action for an off-track measure (from the owner's
    return, or agreed by the escalation owner), tracked until done or dropped."""

    __tablename__ = "action_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    due_date: Mapped[date | None]
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default=ActionPlanStatus.OPEN.value)
    source: Mapped[str] = mapped_column(String(16), default="return")  # return, agreed
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id", ondelete="SET NULL"))
    escalation_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalations.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    progress: Mapped[str | None] = mapped_column(Text)  # the owner's latest word on it
    progress_at: Mapped[datetime | None]


class Escalation(Base):
    """An off-track or badly overdue measure put to its escalation owner."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("measure_id", "period", "reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))  # off-track, overdue, deep-dive
    escalation_owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    raised_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    remedial_action: Mapped[str | None] = mapped_column(Text)
    deep_dive_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # The return that raised it (None for an overdue escalation: nothing was returned).
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id", ondelete="SET NULL"))
    remedial_owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    remedial_due: Mapped[date | None]
    remedial_agreed_at: Mapped[datetime | None]
    remedial_agreed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    deep_dive_requested_at: Mapped[datetime | None]
    deep_dive_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    stopped_at: Mapped[datetime | None]  # key actions and projects: "terminate" (seed 002)
    stopped_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    stop_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]
    closed_reason: Mapped[str | None] = mapped_column(String(32))  # recovered, stopped, received
    # A milestone past its date (reason "milestone:<id>"): which one.
    milestone_id: Mapped[int | None] = mapped_column(
        ForeignKey("milestones.id", ondelete="CASCADE")
    )


class EscalationQuestion(Base):
    """A question the escalation owner put to the measure's owner from the escalation card,
    and the owner's answer."""

    __tablename__ = "escalation_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"))
    asked_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    asked_of_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    question: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    answered_at: Mapped[datetime | None]


class DeepDive(Base):
    """A measure put to the Leadership Team for a deep-dive review: off track for several
    periods running, or asked for from an escalation; and what the Leadership Team decided."""

    __tablename__ = "deep_dives"
    __table_args__ = (UniqueConstraint("measure_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(16))  # persistent, requested
    escalation_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalations.id", ondelete="SET NULL")
    )
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    flagged_at: Mapped[datetime]
    decision: Mapped[str | None] = mapped_column(String(16))  # accepted, declined
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime | None]
    review_date: Mapped[date | None]
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decline_reason: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """The outbox: one row per message to send, unique by the reason it is sent for."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "state", "not_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reason_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    conversation_id: Mapped[str | None] = mapped_column(String(255))  # channel posts
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    not_before: Mapped[datetime]
    state: Mapped[NotificationState] = mapped_column(default=NotificationState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    activity_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class ConversationRef(Base):
    """Where PerfBot can reach someone (or a team channel) proactively in Teams."""

    __tablename__ = "conversation_references"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(255), unique=True)
    scope: Mapped[str] = mapped_column(String(16))  # personal, team, groupChat
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None]
    aad_object_id: Mapped[str | None] = mapped_column(String(64))
    team_id: Mapped[str | None]
    service_url: Mapped[str] = mapped_column(Text)
    bot_id: Mapped[str | None]
    reference: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class ClosureDay(Base):
    """A council's own closure day, on top of weekends and bank holidays."""

    __tablename__ = "closure_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    description: Mapped[str | None]


class Deadline(Base):
    """A deadline from the council's published timetable: when one period's returns are
    due, for every measure of a frequency or for one measure (whose own row wins), and
    optionally when and by whom they are reviewed."""

    __tablename__ = "deadlines"
    __table_args__ = (
        # A frequency row has no measure and a measure's row no frequency, so each unique
        # constraint holds only among its own kind of row (NULLs are never equal).
        UniqueConstraint("frequency", "period"),
        UniqueConstraint("measure_id", "period"),
        CheckConstraint("(frequency IS NULL) <> (measure_id IS NULL)", name="frequency_or_measure"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    frequency: Mapped[Frequency | None]
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(16))
    due_date: Mapped[date]
    review_date: Mapped[date | None]
    review: Mapped[str | None]  # who reviews the returns, e.g. "Corporate Management Team"


class AuditEntry(Base):
    """Who changed what, when: every change PerfBot makes leaves one of these."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str]  # an email, or "import", "system"
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    key: Mapped[str]
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class PeriodLock(Base):
    """A period signed off: returns for it change only through an admin, with an audit record."""

    __tablename__ = "period_locks"

    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    locked_at: Mapped[datetime]
    locked_by: Mapped[str]
    reason: Mapped[str | None] = mapped_column(Text)


class LeadershipChannel(Base):
    """The team channel where the Leadership Team's weekly summary is posted (one row at
    most: id 1). With none, the summary goes to each of the Leadership Team in person."""

    __tablename__ = "leadership_channel"
    __table_args__ = (CheckConstraint("id = 1", name="one_channel"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    conversation_id: Mapped[str] = mapped_column(String(255))  # the channel's conversation
    team_id: Mapped[str | None] = mapped_column(String(255))
    team_name: Mapped[str | None]
    channel_name: Mapped[str | None]
    set_by: Mapped[str]  # an email, or "cli:<login>"
    set_at: Mapped[datetime]


class Publication(Base):
    """A summary or board that went out, with the periods it showed: a figure of one of
    them changed afterwards is a restatement, listed in the next summary."""

    __tablename__ = "publications"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # summary, board
    reason_key: Mapped[str] = mapped_column(String(200), unique=True)  # the outbox row's
    periods: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"periods": [labels]}
    published_at: Mapped[datetime]


class Snooze(Base):
    """No reminders to this person for this return until the given day (never past the deadline)."""

    __tablename__ = "snoozes"
    __table_args__ = (UniqueConstraint("measure_id", "period", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    until: Mapped[date]
    created_at: Mapped[datetime]


class Absence(Base):
    """An owner away until a day (the day they are back): until then their reminders and
    chasers go to whoever covers (the person named, their measures' delegates, or their
    manager), who may send those returns. One row a person; ``back`` removes it."""

    __tablename__ = "absences"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), unique=True)
    until: Mapped[date]  # back on this day: away before it
    cover_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    set_by: Mapped[str]  # an email
    set_at: Mapped[datetime]

    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="joined", innerjoin=True)
    cover: Mapped[Person | None] = relationship(foreign_keys=[cover_id], lazy="joined")


class CardKey(Base):
    """A key PerfBot signs its cards' buttons with (cards/seal.py): the newest signs, and
    every key not retired is still accepted, so the cards already in people's chats keep
    working after `perfbot card-keys rotate` until the older keys are retired."""

    __tablename__ = "card_keys"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


# ---- the audit log is append-only ------------------------------------------------------------


class AuditIsAppendOnly(RuntimeError):
    """Something tried to change or remove an audit entry: the log is only ever added to."""


def _refuse_audit_change(mapper: Any, connection: Any, target: AuditEntry) -> None:
    raise AuditIsAppendOnly(
        f"audit entry {target.id} cannot be changed or deleted: the audit log is append-only"
    )


def _refuse_bulk_audit_change(state: ORMExecuteState) -> None:
    """``session.execute(update(AuditEntry))`` or ``delete(...)`` skips the mapper events above."""
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) == AuditEntry.__tablename__:
        raise AuditIsAppendOnly("audit_log cannot be updated or deleted from: it is append-only")


event.listen(AuditEntry, "before_update", _refuse_audit_change)
event.listen(AuditEntry, "before_delete", _refuse_audit_change)
event.listen(Session, "do_orm_execute", _refuse_bulk_audit_change)
