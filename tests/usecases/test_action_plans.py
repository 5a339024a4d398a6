"""Action plans as use cases: an off-track return's action becomes an item (a correction
updates it rather than adding a second), the next return card asks for its progress and can
close it, an item past its date is late, and only those with the right may close one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from domain import action_plans, returns, views
from domain.action_plans import ActionRefusal, AlreadyClosed, Closed
from domain.model import ActionPlan, AuditEntry, Measure, Person
from domain.periods import Period
from domain.policy import Policy
from domain.returns import SubmitReturn
from domain.views import Receipt
from tests.conftest import NOW

AMINA = "amina.hussain@kingsmere.gov.uk"
GARETH = "gareth.jones@kingsmere.gov.uk"
LUCY = "lucy.price@kingsmere.gov.uk"
MARK = "mark.taylor@kingsmere.gov.uk"
POLICY = Policy()
MAX_TEXT = 4_000
# 22 December 2026: November's returns (2026/27 M8) are open; the October action is due.
DECEMBER = datetime(2026, 12, 22, 10, 0, tzinfo=UTC)
OFF_TRACK = {
    "actual": "62.5",
    "commentary": "Slow month.",
    "action": "Extra reminder letters.",
    "action_due": "2027-01-31",
}


def submit(who: Person, card: str = "card-1", **fields: str) -> SubmitReturn:
    typed = {"code": "RB-01", "period": "2026/27 M7", "commentary": "On profile.", **fields}
    return SubmitReturn(person_id=who.id, card_id=card, **typed)


async def run_submit(uow, command: SubmitReturn, now: datetime = NOW):
    async with uow() as tx:
        who = await tx.get(Person, command.person_id)
    return await uow.run(
        lambda tx: returns.submit_return(tx, command, who, now, POLICY, MAX_TEXT),
        attempts=returns.SUBMIT_ATTEMPTS,
    )


async def items(uow, code: str = "RB-01") -> list[ActionPlan]:
    async with uow() as tx:
        query = select(ActionPlan).join(Measure).where(Measure.code == code)
        return list(await tx.scalars(query.order_by(ActionPlan.id)))


async def audits(uow, action: str) -> list[AuditEntry]:
    async with uow() as tx:
        query = select(AuditEntry).where(AuditEntry.action == action)
        return list(await tx.scalars(query.order_by(AuditEntry.id)))


async def test_an_off_track_returns_action_becomes_an_open_item_and_the_receipt_says_so(
    uow, person
):
    amina = await person(AMINA)
    receipt = await run_submit(uow, submit(amina, **OFF_TRACK))
    assert isinstance(receipt, Receipt)
    [item] = await items(uow)
    assert (item.description, item.due_date, item.status, item.source, item.period) == (
        "Extra reminder letters.",
        date(2027, 1, 31),
        "open",
        "return",
        "2026/27 M7",
    )
    assert item.owner_id == amina.id
    assert item.return_id is not None
    assert receipt.action_plan == (
        "Your action is in RB-01's action plan, due Sunday 31 January; PerfBot will ask you "
        "about it on your next return."
    )
    assert "followed up" not in receipt.next_steps
    [added] = await audits(uow, "add action")
    assert added.actor == AMINA
    again = await run_submit(uow, submit(amina, **OFF_TRACK))  # the same card twice
    assert again.duplicate
    assert again.action_plan == receipt.action_plan
    assert len(await items(uow)) == 1


async def test_an_on_track_return_or_one_without_an_action_adds_nothing(uow, person):
    amina = await person(AMINA)
    receipt = await run_submit(uow, submit(amina, actual="66.5"))
    assert receipt.action_plan == ""
    assert receipt.next_steps == (
        "Nothing more is needed for this period. Thank you. It waits for Mark Taylor (the "
        "escalation owner) to approve once they install PerfBot; the performance team can "
        "approve it meanwhile."
    )
    assert await items(uow) == []


async def test_a_correction_updates_the_periods_own_item_and_a_recovery_leaves_it(uow, person):
    amina = await person(AMINA)
    await run_submit(uow, submit(amina, **OFF_TRACK))
    changed = {**OFF_TRACK, "action": "Phone the 200 largest debtors.", "action_due": "2027-02-15"}
    receipt = await run_submit(uow, submit(amina, card="card-2", **changed))
    [item] = await items(uow)  # still one item for the period's own action
    assert (item.description, item.due_date, item.status) == (
        "Phone the 200 largest debtors.",
        date(2027, 2, 15),
        "open",
    )
    assert "due Monday 15 February" in receipt.action_plan
    [change] = await audits(uow, "change action")
    assert change.changes["description"] == [
        "Extra reminder letters.",
        "Phone the 200 largest debtors.",
    ]
    # A corrected figure with the same action: nothing new, nothing changed.
    await run_submit(uow, submit(amina, card="card-3", **{**changed, "actual": "62.0"}))
    assert len(await items(uow)) == 1
    assert len(await audits(uow, "change action")) == 1
    # Back on track: the item stays, for its owner to close.
    back = await run_submit(uow, submit(amina, card="card-4", actual="66.5"))
    assert back.action_plan == ""
    [still] = await items(uow)
    assert still.status == "open"


async def test_the_next_return_card_asks_about_the_item_and_stores_its_progress_and_done(
    uow, person
):
    amina = await person(AMINA)
    await run_submit(uow, submit(amina, **OFF_TRACK))
    [item] = await items(uow)
    today = DECEMBER.date()
    async with uow() as tx:
        card = await views.return_card_for(
            tx, amina, "RB-01", Period.parse("2026/27 M8"), today, POLICY
        )
        october = await views.return_card_for(
            tx, amina, "RB-01", Period.parse("2026/27 M7"), today, POLICY
        )
    assert [a.id for a in card.followed_up] == [item.id]
    assert card.followed_up[0].status == "open"
    assert october.followed_up == []  # October's card holds its own action itself
    # Someone else's item (another measure) and a made-up id in the card's data: passed over.
    async with uow() as tx:
        rb02 = await tx.scalar(select(Measure).where(Measure.code == "RB-02"))
        who = await tx.get(Person, amina.id)
        other = await action_plans.add_item(
            tx,
            rb02,
            "2026/27 M7",
            "Not this one.",
            owner=who,
            due=None,
            source="agreed",
            by=who,
            now=NOW,
        )
        other_id = other.id
    november = SubmitReturn(
        person_id=amina.id,
        code="RB-01",
        period="2026/27 M8",
        actual="75.8",
        commentary="Letters went out; back on profile.",
        card_id="card-m8",
        progress=(
            (item.id, "Letters sent to 1,200 households."),
            (other_id, "forged"),
            (99999, "x"),
        ),
        done=(item.id, other_id),
    )
    receipt = await run_submit(uow, november, DECEMBER)
    assert isinstance(receipt, Receipt)
    assert receipt.action_plan == "Progress noted on 1 action; 1 marked done."
    [closed] = await items(uow)
    assert (closed.progress, closed.progress_at, closed.status, closed.closed_at) == (
        "Letters sent to 1,200 households.",
        DECEMBER,
        "done",
        DECEMBER,
    )
    [untouched] = await items(uow, "RB-02")
    assert (untouched.progress, untouched.status) == (None, "open")
    [refused] = [a for a in await audits(uow, "refused") if a.entity == "action_plan"]
    assert refused.changes["items"] == [other_id, 99999]
    assert len(await audits(uow, "action progress")) == 1
    assert len(await audits(uow, "action done")) == 1


async def test_an_open_item_past_its_date_is_late_on_the_card_in_the_list_and_in_status(
    uow, person
):
    amina = await person(AMINA)
    await run_submit(uow, submit(amina, **{**OFF_TRACK, "action_due": "2026-12-21"}))
    async with uow() as tx:
        on_the_day = await action_plans.open_items(
            tx, [(await items(uow))[0].measure_id], date(2026, 12, 21)
        )
        listed = await action_plans.items_of(tx, amina, DECEMBER.date())
        mark = await tx.scalar(select(Person).where(Person.email == MARK))
        status = await views.service_status(tx, mark, DECEMBER.date(), POLICY)
        mine = await views.my_returns(tx, amina, DECEMBER.date(), POLICY)
    assert [i.status for i in next(iter(on_the_day.values()))] == ["open"]  # due today: not late
    assert [(i.code, i.status) for i in listed] == [("RB-01", "late")]
    rb01 = [i for i in status if i.measure.code == "RB-01"]
    assert rb01
    assert all(i.actions_late == 1 for i in rb01)
    assert all(i.actions_late == 0 for i in status if i.measure.code != "RB-01")
    assert {i.measure.code for i in mine if i.actions_late} == {"RB-01"}


async def mark_done(uow, email: str, item_id: int, now: datetime = DECEMBER):
    async with uow() as tx:
        who = await tx.scalar(select(Person).where(Person.email == email))
    return await uow.run(lambda tx: action_plans.mark_done(tx, who, item_id, now))


async def drop(uow, email: str, item_id: int, reason: str):
    async with uow() as tx:
        who = await tx.scalar(select(Person).where(Person.email == email))
    return await uow.run(lambda tx: action_plans.drop(tx, who, item_id, reason, DECEMBER))


async def test_only_those_with_the_right_may_mark_an_item_done_and_a_second_press_says_who(
    uow, person
):
    amina = await person(AMINA)
    await run_submit(uow, submit(amina, **OFF_TRACK))
    [item] = await items(uow)
    refused = await mark_done(uow, GARETH, item.id)
    assert isinstance(refused, ActionRefusal)
    assert refused.message.startswith("Sorry, only its owner")
    assert "Nothing was changed" in refused.message
    assert (await items(uow))[0].status == "open"
    [audit] = [a for a in await audits(uow, "refused") if a.entity == "action_plan"]
    assert (audit.actor, audit.changes["action"]) == (GARETH, "mark done")
    done = await mark_done(uow, LUCY, item.id)  # Lucy deputises for RB-01
    assert isinstance(done, Closed)
    assert done.item.status == "done"
    later = DECEMBER + timedelta(hours=2)
    again = await mark_done(uow, AMINA, item.id, later)
    assert isinstance(again, AlreadyClosed)
    assert (again.by, again.at) == ("Lucy Price", DECEMBER)
    assert len(await audits(uow, "action done")) == 1
    missing = await mark_done(uow, AMINA, 123456)
    assert isinstance(missing, ActionRefusal)


async def test_only_the_escalation_owner_or_an_admin_may_drop_an_item_with_a_reason(uow, person):
    amina = await person(AMINA)
    await run_submit(uow, submit(amina, **OFF_TRACK))
    [item] = await items(uow)
    refused = await drop(uow, AMINA, item.id, "Not needed.")
    assert isinstance(refused, ActionRefusal)
    assert "escalation owner" in refused.message
    no_reason = await drop(uow, MARK, item.id, "  ")
    assert isinstance(no_reason, ActionRefusal)
    assert "Say why" in no_reason.message
    assert (await items(uow))[0].status == "open"
    dropped = await drop(uow, MARK, item.id, "Replaced by the recovery plan.")
    assert isinstance(dropped, Closed)
    assert dropped.item.status == "dropped"
    [entry] = await audits(uow, "drop action")
    assert entry.changes["reason"] == "Replaced by the recovery plan."
    async with uow() as tx:
        count = await tx.scalar(
            select(func.count()).select_from(ActionPlan).where(ActionPlan.status == "open")
        )
    assert count == 0
    marked = await mark_done(uow, AMINA, item.id)
    assert isinstance(marked, AlreadyClosed)
    assert marked.by == "Mark Taylor"


async def test_a_persons_list_holds_their_measures_items_open_first(uow, person):
    amina = await person(AMINA)
    await run_submit(uow, submit(amina, **OFF_TRACK))
    async with uow() as tx:
        gareth = await tx.scalar(select(Person).where(Person.email == GARETH))
        mark = await tx.scalar(select(Person).where(Person.email == MARK))
        lucy = await tx.scalar(select(Person).where(Person.email == LUCY))
        assert [i.code for i in await action_plans.items_of(tx, gareth, DECEMBER.date())] == []
        assert [i.code for i in await action_plans.items_of(tx, lucy, DECEMBER.date())] == ["RB-01"]
        [for_mark] = await action_plans.items_of(tx, mark, DECEMBER.date())
    assert action_plans.may_drop(mark, for_mark)
    assert not action_plans.may_drop(amina, for_mark)
