"""Submitting a return, "not available yet", snoozing and delegating, as use cases: what is
stored, what is refused and audited, what is queued, and what comes back to be shown."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from domain import conversations, people, returns, views
from domain.model import AuditEntry, Escalation, Measure, Notification, Person, Return
from domain.notifications import Kind
from domain.policy import Policy
from domain.reminders import Cadence
from domain.returns import Refusal, Rejected, SubmitReturn
from domain.views import Receipt, Refused
from tests.conftest import NOW

AMINA = "amina.hussain@kingsmere.gov.uk"
GARETH = "gareth.jones@kingsmere.gov.uk"
LUCY = "lucy.price@kingsmere.gov.uk"
POLICY = Policy()
MAX_TEXT = 4_000


async def count(uow, model, *where) -> int:
    async with uow() as tx:
        return await tx.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def versions(uow, code: str, period: str) -> list[Return]:
    async with uow() as tx:
        query = (
            select(Return)
            .join(Measure)
            .where(Measure.code == code, Return.period == period)
            .order_by(Return.version)
        )
        return list(await tx.scalars(query))


def submit(who, **fields: str) -> SubmitReturn:
    typed = {"code": "RB-01", "period": "2026/27 M7", "commentary": "On profile.", **fields}
    return SubmitReturn(person_id=who.id, card_id="card-1", **typed)


async def run_submit(uow, command: SubmitReturn, now: datetime = NOW):
    async with uow() as tx:
        who = await tx.get(Person, command.person_id)
    return await uow.run(
        lambda tx: returns.submit_return(tx, command, who, now, POLICY, MAX_TEXT),
        attempts=returns.SUBMIT_ATTEMPTS,
    )


async def test_a_figure_is_stored_rated_and_answered_with_its_receipt(uow, person):
    amina = await person(AMINA)
    receipt = await run_submit(uow, submit(amina, actual="66.5%"))
    assert isinstance(receipt, Receipt)
    assert receipt.shown == "66.5%"
    assert receipt.assessment.rating is not None
    [stored] = await versions(uow, "RB-01", "2026/27 M7")
    assert (str(stored.value), stored.commentary, stored.version) == ("66.5", "On profile.", 1)
    assert await count(uow, AuditEntry, AuditEntry.action == "submit") == 1


async def test_the_same_card_twice_stores_one_return_and_a_correction_adds_a_version(uow, person):
    amina = await person(AMINA)
    first = await run_submit(uow, submit(amina, actual="66.5"))
    again = await run_submit(uow, submit(amina, actual="66.5"))
    assert isinstance(again, Receipt)
    assert again.duplicate
    assert not first.duplicate
    corrected = await run_submit(uow, replace(submit(amina, actual="67.0"), card_id="card-2"))
    assert isinstance(corrected, Receipt)
    assert (corrected.version, corrected.replaced) == (2, "66.5%")
    assert [str(r.value) for r in await versions(uow, "RB-01", "2026/27 M7")] == ["66.5", "67.0"]


async def test_the_first_card_sent_again_after_a_correction_is_known_and_stores_nothing(
    uow, person
):
    """A retried press of the first card arriving after the correction: the version it
    stored is no longer the newest, and is still found, so no third version is made."""
    amina = await person(AMINA)
    await run_submit(uow, submit(amina, actual="66.5"))
    await run_submit(uow, replace(submit(amina, actual="67.0"), card_id="card-2"))
    late = await run_submit(uow, submit(amina, actual="66.5"))
    assert isinstance(late, Receipt)
    assert late.duplicate
    assert [str(r.value) for r in await versions(uow, "RB-01", "2026/27 M7")] == ["66.5", "67.0"]


async def test_someone_elses_measure_is_refused_and_only_the_refusal_is_kept(uow, person):
    gareth = await person(GARETH)
    outcome = await run_submit(uow, submit(gareth, actual="66.5"))
    assert isinstance(outcome, Refusal)
    assert "Only the owner of RB-01 (Amina Hussain)" in outcome.message
    assert await versions(uow, "RB-01", "2026/27 M7") == []
    assert await count(uow, AuditEntry, AuditEntry.action == "refused") == 1


async def test_problems_store_nothing_and_bring_back_the_card_with_its_history(uow, person):
    amina = await person(AMINA)
    outcome = await run_submit(uow, submit(amina, actual="66.5", commentary=""))
    assert isinstance(outcome, Rejected)
    assert "commentary" in outcome.problems.errors
    item = outcome.open_return
    assert (item.measure.code, item.period.label, item.state) == ("RB-01", "2026/27 M7", "overdue")
    assert [p.period.label for p in item.history] == [
        "2026/27 M3",
        "2026/27 M4",
        "2026/27 M5",
        "2026/27 M6",
    ]
    assert all(p.shown != "—" for p in item.history)  # the sample council has sent those
    assert item.target is not None
    assert await versions(uow, "RB-01", "2026/27 M7") == []
    assert await count(uow, AuditEntry) == await count(
        uow, AuditEntry, AuditEntry.actor == "import"
    )


async def test_an_over_long_field_is_a_problem_not_a_stored_return(uow, person):
    amina = await person(AMINA)
    command = replace(submit(amina, actual="66.5", commentary="x" * 5000), too_long=("commentary",))
    outcome = await run_submit(uow, command)
    assert isinstance(outcome, Rejected)
    assert outcome.problems.errors == {
        "commentary": "This is over 4,000 characters: please shorten it."
    }
    assert await versions(uow, "RB-01", "2026/27 M7") == []


ACTION = {"actual": "55", "action": "Recovery plan.", "action_due": "2027-01-31"}


async def reachable(uow, email: str) -> None:
    """As if they had installed PerfBot: a personal chat stored for them."""
    async with uow() as tx:
        who = await tx.scalar(select(Person).where(Person.email == email))
        await conversations.store(
            tx,
            f"a:{email}",
            {
                "scope": "personal",
                "person_id": who.id,
                "service_url": "http://teams",
                "reference": {},
            },
            NOW,
        )


async def test_an_action_rating_raises_one_escalation_with_the_owners_own_words(uow, person):
    await reachable(uow, "mark.taylor@kingsmere.gov.uk")
    amina = await person(AMINA)
    receipt = await run_submit(uow, submit(amina, **ACTION))
    again = await run_submit(uow, replace(submit(amina, **{**ACTION, "actual": "54"}), card_id="2"))
    assert await count(uow, Escalation) == 1
    async with uow() as tx:
        [queued] = list(await tx.scalars(select(Notification).where(Notification.kind != "review")))
    assert (queued.kind, queued.reason_key) == (
        Kind.ESCALATION,
        "escalation:RB-01:2026/27 M7:off-track",
    )
    assert queued.payload["rating"] == "Action"
    assert queued.payload["commentary"] == "On profile."
    assert (queued.payload["action"], queued.payload["action_due"]) == (
        "Recovery plan.",
        "2027-01-31",
    )
    said = (
        "Because it is rated Action, Mark Taylor is being sent an escalation with your "
        "commentary and action. It goes to Mark Taylor (the escalation owner) to approve."
    )
    assert receipt.next_steps == again.next_steps == said


async def test_an_unreachable_escalation_owner_is_said_and_the_performance_team_told(uow, person):
    amina = await person(AMINA)
    async with uow() as tx:  # the performance team has been seen in Teams: PerfBot can reach them
        for admin in await people.performance_team(tx):
            admin.teams_user_id = f"29:admin-{admin.id}"
    receipt = await run_submit(uow, submit(amina, **ACTION))
    async with uow() as tx:
        rows = {n.reason_key: n for n in await tx.scalars(select(Notification))}
        admins = {p.id: p.name for p in await people.performance_team(tx)}
    mine = rows.pop("escalation:RB-01:2026/27 M7:off-track")
    review = rows.pop(next(key for key in rows if key.startswith("review:")))
    assert review.person_id == mine.person_id  # the review card waits for Mark too
    assert mine.person_id is not None  # waits for Mark, who gets it when he installs
    assert {n.person_id for n in rows.values()} == set(admins)
    assert all(n.payload["for"] == "Mark Taylor" for n in rows.values())
    assert "It waits for Mark Taylor (the escalation owner) to approve once they install" in (
        receipt.next_steps
    )
    assert "PerfBot cannot reach Mark Taylor yet (PerfBot has not been installed for them" in (
        receipt.next_steps
    )
    told = ", ".join(sorted(admins.values()))
    assert f"so the performance team ({told}) is being sent it instead." in receipt.next_steps
    assert "as soon as they install PerfBot. It waits for Mark Taylor (the escalation owner)" in (
        receipt.next_steps
    )


async def test_the_receipt_names_the_periods_still_waiting(uow, person):
    amina = await person(AMINA)
    december = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # October and November are both open
    receipt = await run_submit(uow, submit(amina, actual="66.5", period="2026/27 M7"), december)
    assert isinstance(receipt, Receipt)
    assert receipt.waiting == ("2026/27 M8",)


async def test_not_available_asks_again_on_the_councils_own_reminder_days(uow, person):
    amina = await person(AMINA)
    # Thursday 5 November 2026: October's returns are due on Friday 20 November.
    now = datetime(2026, 11, 5, 10, 0, tzinfo=UTC)

    async def noted(policy: Policy):
        async with uow() as tx:
            return await returns.not_available(
                tx, amina, "RB-01", "2026/27 M7", "Report runs late.", now, policy, MAX_TEXT
            )

    assert (await noted(Policy())).next_ask == date(2026, 11, 13)  # 5 working days before
    council = Policy(cadence=Cadence(reminders=(10, 2)))
    assert (await noted(council)).next_ask == date(2026, 11, 6)  # 10 working days before
    async with uow() as tx:
        measure = await views.measure_by_code(tx, "RB-01")
        assert measure is not None
        measure.reminder_days = "2"  # the measure's own days win over the council's
    assert (await noted(council)).next_ask == date(2026, 11, 18)
    assert len(await versions(uow, "RB-01", "2026/27 M7")) == 1  # the same reason, stored once


async def test_not_available_needs_a_reason_and_brings_the_card_back(uow, person):
    amina = await person(AMINA)
    async with uow() as tx:
        outcome = await returns.not_available(
            tx, amina, "RB-01", "2026/27 M7", "  ", NOW, POLICY, MAX_TEXT
        )
    assert isinstance(outcome, Rejected)
    assert outcome.problems.errors == {"reason": "Say why the figure is not available yet."}
    assert outcome.open_return.measure.code == "RB-01"
    assert await versions(uow, "RB-01", "2026/27 M7") == []


async def test_a_snooze_never_passes_the_deadline_and_a_refusal_writes_nothing(uow, person):
    gareth = await person(GARETH)
    now = datetime(2026, 11, 5, 10, 0, tzinfo=UTC)
    async with uow() as tx:
        done = await returns.snooze(tx, gareth, "RB-03", "2026-12-01", now, POLICY)
    assert (done.until, done.capped) == (date(2026, 11, 20), True)
    before = await count(uow, AuditEntry)

    async def someone_elses() -> None:
        async with uow() as tx:
            await returns.snooze(tx, gareth, "RB-01", "2026-11-12", now, POLICY)

    with pytest.raises(Refused, match="not the owner or a delegate of RB-01"):
        await someone_elses()
    assert await count(uow, AuditEntry) == before


async def test_a_new_delegate_is_told_once(uow, person):
    amina = await person(AMINA)
    for _ in range(2):
        async with uow() as tx:
            done = await returns.delegate(tx, amina, "RB-02", LUCY, NOW)
    assert not done.new
    async with uow() as tx:
        [told] = list(await tx.scalars(select(Notification)))
    assert told.kind == Kind.DELEGATED
    assert told.payload == {"code": "RB-02", "codes": ["RB-02"], "by": "Amina Hussain"}


async def test_a_delegate_removed_and_added_again_the_same_day_is_told_each_time(uow, person):
    amina = await person(AMINA)
    later = NOW + timedelta(hours=2)
    for when, change in ((NOW, "add"), (NOW + timedelta(hours=1), "remove"), (later, "add")):
        async with uow() as tx:
            if change == "add":
                done = await returns.delegate(tx, amina, "RB-02", LUCY, when)
            else:
                await returns.undelegate(tx, amina, "RB-02", LUCY, when)
    assert (done.new, done.told) == (True, True)
    async with uow() as tx:
        kinds = [n.kind for n in await tx.scalars(select(Notification).order_by(Notification.id))]
    assert kinds == [Kind.DELEGATED, Kind.UNDELEGATED, Kind.DELEGATED]


async def test_status_is_refused_to_an_owner_and_covers_a_service_for_its_head(uow, person):
    amina, mark = await person(AMINA), await person("mark.taylor@kingsmere.gov.uk")

    async def status_of(who):
        async with uow() as tx:
            return await views.service_status(tx, who, NOW.date(), POLICY)

    with pytest.raises(Refused, match="status is for escalation owners"):
        await status_of(amina)
    items = await status_of(mark)
    assert {i.measure.service.name for i in items} == {"Revenues and Benefits"}
    assert "RB-01" in {i.measure.code for i in items}


async def test_an_escalation_owner_who_removed_perfbot_is_not_promised_it(uow, person):
    await reachable(uow, "mark.taylor@kingsmere.gov.uk")
    async with uow() as tx:  # Mark removes PerfBot from his chat
        await conversations.forget(tx, "a:mark.taylor@kingsmere.gov.uk", NOW)
    amina = await person(AMINA)
    receipt = await run_submit(uow, submit(amina, **ACTION))
    # Nobody in the performance team has PerfBot either: the owner is asked to tell him.
    assert "PerfBot cannot reach Mark Taylor (they removed PerfBot in Teams) nor anyone" in (
        receipt.next_steps
    )
    assert "please tell Mark Taylor yourself" in receipt.next_steps
    assert "is being sent" not in receipt.next_steps
    async with uow() as tx:
        copies = [
            n
            for n in await tx.scalars(select(Notification))
            if n.reason_key.startswith("escalation:RB-01:2026/27 M7:off-track:via:")
        ]
    assert copies


async def test_someone_reachable_again_gets_the_latest_of_what_waited_once(uow, person):
    lucy = await person(LUCY)
    earlier = NOW - timedelta(days=3)
    failed = {
        "chaser:RB-01:2026/27 M7:T+1:x": (Kind.CHASER, earlier, {"code": "RB-01", "period": "2026/27 M7"}),
        "chaser:RB-01:2026/27 M7:T+3:x": (Kind.CHASER, NOW, {"code": "RB-01", "period": "2026/27 M7"}),
        "reminder:RB-01:2026/27 M7:T-1:x": (
            Kind.REMINDER, earlier, {"code": "RB-01", "period": "2026/27 M7", "deadline": "2026-11-20"},
        ),
        "reply:old": (Kind.REPLY, earlier, {"text": "an answer from days ago"}),
        "delegated:RB-02:x": (Kind.DELEGATED, earlier, {"code": "RB-02", "by": "Amina"}),
    }  # fmt: skip
    async with uow() as tx:
        await people.mark_unreachable(tx, lucy.id, people.NOT_INSTALLED, earlier)
        for key, (kind, at, payload) in failed.items():
            tx.add(
                Notification(
                    reason_key=key, kind=kind, person_id=lucy.id, payload=payload,
                    not_before=at, state="failed", last_error=people.NOT_INSTALLED, created_at=at,
                )
            )  # fmt: skip
    async with uow() as tx:
        again = await people.reachable_again(tx, lucy.id, "29:lucy", NOW)
    assert sorted(again) == ["chaser:RB-01:2026/27 M7:T+3:x", "delegated:RB-02:x"]
    async with uow() as tx:
        states = {n.reason_key: n.state for n in await tx.scalars(select(Notification))}
        assert (await tx.get(Person, lucy.id)).unreachable_reason is None
    assert states["chaser:RB-01:2026/27 M7:T+1:x"] == "cancelled"  # superseded, not a burst
    assert states["reminder:RB-01:2026/27 M7:T-1:x"] == "failed"  # its deadline has passed
    assert states["reply:old"] == "failed"
    async with uow() as tx:  # and again: nothing more
        assert await people.reachable_again(tx, lucy.id, "29:lucy", NOW) == []
