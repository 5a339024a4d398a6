"""Seed 001's review questions as use cases on the sample council: the answers a council
requires are enforced field by field with nothing stored; the answers are stored apart from
the commentary, each version of a return keeping its own; and the receipt, the escalation
card, the board and the export with commentary show them."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from domain import audit_trail, escalations, returns, signoff, summary
from domain.board import ReportKind, Scope, build, report_period
from domain.model import AuditEntry, Escalation, Person, Return, ReturnAnswer
from domain.policy import Policy
from domain.reporting import export_columns, load_calendar, performance
from domain.returns import Rejected, SubmitReturn
from domain.views import Receipt, today_in_london
from tests.conftest import NOW

AMINA = "amina.hussain@kingsmere.gov.uk"
Q2 = "2026/27 Q2"
STRICT = Policy(required=frozenset({"why", "impact", "action"}))
WHY = "Two assessors off sick."
IMPACT = "Claimants wait longer for support."


def rb06(who: Person, card: str = "card-1", **fields: str) -> SubmitReturn:
    """RB-06 for Q2 at 78% against 90%: Action."""
    answers = tuple(
        (name, fields.pop(name)) for name in ("why", "impact", "forecast") if name in fields
    )
    typed = {
        "code": "RB-06",
        "period": Q2,
        "actual": "78",
        "commentary": "Claims decided fell again.",
        "action": "Overtime on Saturdays.",
        "action_due": "2027-01-29",
        **fields,
    }
    return SubmitReturn(person_id=who.id, card_id=card, answers=answers, **typed)


async def run(uow, command: SubmitReturn, policy: Policy = STRICT):
    async with uow() as tx:
        who = await tx.get(Person, command.person_id)
    return await uow.run(
        lambda tx: returns.submit_return(tx, command, who, NOW, policy, 4_000),
        attempts=returns.SUBMIT_ATTEMPTS,
    )


async def answers_by_version(uow) -> dict[int, dict[str, str]]:
    async with uow() as tx:
        rows = await tx.execute(
            select(Return.version, ReturnAnswer.question, ReturnAnswer.answer)
            .join(Return, Return.id == ReturnAnswer.return_id)
            .where(Return.period == Q2)
        )
        found: dict[int, dict[str, str]] = {}
        for version, question, answer in rows:
            found.setdefault(version, {})[question] = answer
        return found


async def test_the_answers_the_council_requires_are_each_asked_for_and_nothing_stored(uow, person):
    amina = await person(AMINA)
    async with uow() as tx:
        before = len(list(await tx.scalars(select(Return))))
    outcome = await run(uow, rb06(amina, why=WHY, action=""))
    assert isinstance(outcome, Rejected)
    assert outcome.problems.errors == {
        "impact": "It is off track: say what impact it will have on service users.",
        "action": "It is off track: say what action will bring it back on track.",
    }
    assert outcome.problems.off_track
    assert str(outcome.problems).endswith(
        "Off-track figures need an action and a date and the review questions marked below "
        "answered."
    )
    async with uow() as tx:
        assert len(list(await tx.scalars(select(Return)))) == before
        assert list(await tx.scalars(select(ReturnAnswer))) == []
    # On track, nothing is required beyond the commentary.
    on_track = await run(uow, rb06(amina, actual="95", action="", action_due=""))
    assert isinstance(on_track, Receipt)


async def test_the_answers_are_stored_apart_and_each_version_keeps_its_own(uow, person):
    amina = await person(AMINA)
    first = await run(uow, rb06(amina, why=WHY, impact=IMPACT))
    assert isinstance(first, Receipt)
    assert first.words == (
        ("Commentary", "Claims decided fell again."),
        ("Why", WHY),
        ("Impact on service users", IMPACT),
        ("Action", "Overtime on Saturdays."),
        ("By when", "Friday 29 January 2027"),
    )
    # The same card again: one return, and its receipt says what was sent.
    again = await run(uow, rb06(amina, why=WHY, impact=IMPACT))
    assert isinstance(again, Receipt)
    assert again.duplicate
    assert again.words == first.words
    corrected = await run(
        uow, rb06(amina, "card-2", actual="79", why="Three assessors off sick.", impact=IMPACT)
    )
    assert isinstance(corrected, Receipt)
    # (The sample council's own version before them answered nothing.)
    assert await answers_by_version(uow) == {
        first.version: {"why": WHY, "impact": IMPACT},
        corrected.version: {"why": "Three assessors off sick.", "impact": IMPACT},
    }
    async with uow() as tx:
        [ret] = list(
            await tx.scalars(
                select(Return).where(Return.period == Q2, Return.version == corrected.version)
            )
        )
        assert ret.commentary == "Claims decided fell again."
        corrections = await tx.scalars(select(AuditEntry).where(AuditEntry.action == "correct"))
        [entry] = [e for e in corrections if e.changes["version"] == corrected.version]
    assert entry.changes["answers"] == {"why": [WHY, "Three assessors off sick."]}
    assert f"answer (Why) {WHY} → Three assessors off sick." in audit_trail.detail(
        "correct", entry.changes, {}
    )


async def test_the_escalation_the_board_and_the_export_show_the_answers(uow, person):
    amina = await person(AMINA)
    receipt = await run(uow, rb06(amina, why=WHY, impact=IMPACT, forecast="About 80%."))
    assert isinstance(receipt, Receipt)
    async with uow() as tx:
        escalation = await tx.scalar(select(Escalation))
        assert escalation is not None
        view = await escalations.view(tx, escalation, NOW, STRICT)
    assert view.answers == (
        ("Why", WHY),
        ("Impact on service users", IMPACT),
        ("Predicted without more action", "About 80%."),
    )
    async with uow() as tx:
        report = await build(
            tx,
            ReportKind.BOARD,
            report_period(ReportKind.BOARD, Q2),
            NOW,
            STRICT,
            Scope(everything=True, words="all services"),
        )
    [row] = [r for r in report.rows if r.code == "RB-06"]
    assert [(q.value, text) for q, text in row.answers] == [
        ("why", WHY),
        ("impact", IMPACT),
        ("forecast", "About 80%."),
    ]
    assert row.commentary == "Claims decided fell again."
    columns = export_columns(frozenset({"commentary"}))
    assert columns[-9:] == (
        "commentary",
        "remedial_action",
        "action_due",
        "why",
        "implications",
        "impact",
        "risks",
        "effective",
        "forecast",
    )
    async with uow() as tx:
        rows = await performance(tx, STRICT.scheme, report_period(ReportKind.BOARD, Q2))
    [exported] = [r for r in rows if r.measure.code == "RB-06"]
    values = dict(zip(columns, exported.export_values_with(frozenset({"commentary"})), strict=True))
    assert (values["why"], values["impact"], values["implications"]) == (WHY, IMPACT, None)


async def test_without_answers_a_return_stores_none_and_its_receipt_has_the_commentary(uow, person):
    amina = await person(AMINA)
    receipt = await run(uow, replace(rb06(amina), action_due=""), Policy(required=frozenset()))
    assert isinstance(receipt, Receipt)
    assert receipt.words == (
        ("Commentary", "Claims decided fell again."),
        ("Action", "Overtime on Saturdays."),
    )
    assert await answers_by_version(uow) == {}


async def test_the_measure_detail_and_the_sign_off_card_show_the_answers(uow, person):
    amina = await person(AMINA)
    await run(uow, rb06(amina, why=WHY, impact=IMPACT))
    async with uow() as tx:
        found = await summary.detail(tx, "RB-06", today_in_london(NOW), STRICT)
    assert found.commentary == "Claims decided fell again."
    assert found.answers == (("Why", WHY), ("Impact on service users", IMPACT))
    mark = await person("mark.taylor@kingsmere.gov.uk")
    async with uow() as tx:
        card = await signoff.review_card(tx, mark, Q2, STRICT)
    [item] = [i for i in card.items if i.measure.code == "RB-06"]
    assert item.answers == (("Why", WHY), ("Impact on service users", IMPACT))


async def test_a_return_sent_back_by_its_reviewer_comes_back_with_its_answers_filled_in(
    uow, person
):
    amina = await person(AMINA)
    receipt = await run(uow, rb06(amina, why=WHY, impact=IMPACT))
    assert isinstance(receipt, Receipt)
    async with uow() as tx:
        ret = await tx.scalar(
            select(Return).where(Return.period == Q2, Return.version == receipt.version)
        )
        assert ret is not None
        found = await signoff.returned_card(
            tx, {"return": ret.id, "comment": "Say more."}, NOW, STRICT, await load_calendar(tx)
        )
    assert found is not None
    _, values, _ = found
    assert (values["why"], values["impact"], values["commentary"]) == (
        WHY,
        IMPACT,
        "Claims decided fell again.",
    )
