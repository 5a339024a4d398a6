"""What PerfBot does when a card's button is pressed: one table from verb to handler. Each
handler takes the turn and the typed action its parser (cards/actions.py) made."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.teams import commands
from bot.teams.turn import Turn
from cards import render as cards
from cards.actions import (
    MAX_TEXT,
    AcceptDeepDive,
    Acknowledge,
    AcknowledgeOverdue,
    AgreeRemedial,
    AnswerQuestion,
    Approve,
    AskOwner,
    ChaseForMe,
    DeclineDeepDive,
    DropAction,
    LockPeriod,
    MarkDone,
    MilestoneForm,
    NotAvailableForm,
    OpenDeepDive,
    OpenEscalation,
    OpenMeasure,
    OpenMilestone,
    OpenReport,
    OpenReturnCard,
    RequestDeepDive,
    ReturnForm,
    ReturnToOwner,
    ShowMeasures,
    StopActivity,
    UnlockPeriod,
    Verb,
    ids,
)
from domain import (
    action_plans,
    deep_dives,
    escalations,
    locks,
    milestones,
    overdue,
    returns,
    signoff,
    summary,
)
from domain.action_plans import ActionOutcome, ActionRefusal, AlreadyClosed
from domain.dates import long_day
from domain.model import Milestone, Person
from domain.returns import SUBMIT_ATTEMPTS, Refusal, Rejected, SubmitReturn
from domain.views import Refused, today_in_london

# Any: each handler takes the action type of its own verb (checked by the table's test).
CardActionHandler = Callable[[Turn, Any], Awaitable[None]]


async def _show_problems(turn: Turn, rejected: Rejected, typed: dict[str, str]) -> None:
    """Send the card back with what the person typed and what is wrong; nothing stored."""
    problems = rejected.problems
    card = cards.return_card(
        rejected.open_return,
        turn.today,
        typed,
        problems.errors,
        str(problems),
        problems.doubt,
        confirmed=problems.confirmed,
        required=turn.policy.required,
        off_track=problems.off_track,
    )
    await turn.replace_card(card)


async def submit_return(turn: Turn, form: ReturnForm) -> None:
    typed = form.typed()
    confirmed = form.confirmed
    if form.use_suggestion:
        typed[ids.ACTUAL] = confirmed = form.use_suggestion
    command = SubmitReturn(
        person_id=turn.person.id,
        code=form.code,
        period=form.period,
        actual=typed[ids.ACTUAL],
        commentary=typed[ids.COMMENTARY],
        action=typed[ids.ACTION],
        action_due=typed[ids.ACTION_DUE],
        status=typed[ids.STATUS],
        confirmed=confirmed,
        card_id=turn.ctx.activity.reply_to_id or turn.ctx.activity.id or "",
        too_long=form.too_long,
        problems=tuple(form.problems.items()),
        correction_reason=typed.get(ids.CORRECTION_REASON, ""),
        progress=tuple(sorted(form.progress.items())),
        done=form.done,
        answers=tuple((name, typed.get(name, "")) for name in ids.ANSWERS),
    )
    now = turn.now
    outcome = await turn.uow.run(
        lambda tx: returns.submit_return(tx, command, turn.person, now, turn.policy, MAX_TEXT),
        attempts=SUBMIT_ATTEMPTS,
    )
    if isinstance(outcome, Refusal):
        await turn.say(outcome.message)
    elif isinstance(outcome, Rejected):
        await _show_problems(turn, outcome, typed)
    else:
        await turn.replace_card(cards.receipt_card(outcome))


async def not_available(turn: Turn, form: NotAvailableForm) -> None:
    now = turn.now
    # Two presses at the same moment: the second finds the first's reason and adds nothing.
    outcome = await turn.uow.run(
        lambda tx: returns.not_available(
            tx,
            turn.person,
            form.code,
            form.period,
            form.reason,
            now,
            turn.policy,
            MAX_TEXT,
            form.problems.get(ids.REASON, ""),
        ),
        attempts=SUBMIT_ATTEMPTS,
    )
    if isinstance(outcome, Refusal):
        await turn.say(outcome.message)
        return
    if isinstance(outcome, Rejected):
        await _show_problems(turn, outcome, form.fields)
        return
    ask = outcome.next_ask
    when = f"on {long_day(ask, year=False)}" if ask else "when the figure is next due"
    code = outcome.measure.code
    await turn.replace_card(
        cards.notice_card(
            f"Noted: {code} for {outcome.period.label} is not available yet",
            f"Reason: {outcome.reason}. I'll ask you again {when}. You can send the figure "
            f"any time before then: type submit {code}.",
        )
    )


async def open_return(turn: Turn, action: OpenReturnCard) -> None:
    await commands.send_return_card(turn, action.code, action.period or None)


async def my_measures(turn: Turn, action: ShowMeasures) -> None:
    await commands.my_measures(turn, ())


async def _escalation_outcome(turn: Turn, outcome: escalations.Outcome) -> None:
    """The escalation card in place of the one pressed, showing what happened (or what is
    wrong with the form); a refusal in words, the card left as it was."""
    if isinstance(outcome, escalations.Denied):
        await turn.say(outcome.message)
        return
    await turn.replace_card(cards.escalation_card(outcome.view, outcome.errors, outcome.values))


async def acknowledge(turn: Turn, action: Acknowledge) -> None:
    now = turn.now
    outcome = await turn.uow.run(
        lambda tx: escalations.acknowledge(tx, turn.person, action.escalation, now, turn.policy)
    )
    await _escalation_outcome(turn, outcome)


async def agree_remedial(turn: Turn, action: AgreeRemedial) -> None:
    now = turn.now
    form = escalations.RemedialForm(action.text, action.owner, action.owner_email, action.due)
    outcome = await turn.uow.run(
        lambda tx: escalations.agree_remedial(
            tx, turn.person, action.escalation, form, now, turn.policy
        )
    )
    await _escalation_outcome(turn, outcome)


async def ask_owner(turn: Turn, action: AskOwner) -> None:
    now = turn.now
    outcome = await turn.uow.run(
        lambda tx: escalations.ask_owner(
            tx, turn.person, action.escalation, action.question, now, turn.policy
        )
    )
    await _escalation_outcome(turn, outcome)


async def answer_question(turn: Turn, action: AnswerQuestion) -> None:
    now = turn.now
    outcome = await turn.uow.run(
        lambda tx: escalations.answer_question(tx, turn.person, action.question, action.answer, now)
    )
    if isinstance(outcome, escalations.Denied):
        await turn.say(outcome.message)
        return
    values = {ids.ANSWER: action.answer} if outcome.errors else {}
    await turn.replace_card(cards.question_card(outcome.card, outcome.errors, values))


async def request_deep_dive(turn: Turn, action: RequestDeepDive) -> None:
    now = turn.now
    outcome = await turn.uow.run(
        lambda tx: escalations.request_deep_dive(
            tx, turn.person, action.escalation, now, turn.policy
        )
    )
    await _escalation_outcome(turn, outcome)


async def stop_activity(turn: Turn, action: StopActivity) -> None:
    now = turn.now
    outcome = await turn.uow.run(
        lambda tx: escalations.stop_activity(
            tx, turn.person, action.escalation, action.reason, now, turn.policy
        )
    )
    await _escalation_outcome(turn, outcome)


async def open_escalation(turn: Turn, action: OpenEscalation) -> None:
    """From status: the escalation card again, as a new card (status stays as it is)."""
    now = turn.now
    outcome = await turn.uow.run(
        lambda tx: escalations.open_card(tx, turn.person, action.escalation, now, turn.policy)
    )
    if isinstance(outcome, escalations.Denied):
        await turn.say(outcome.message)
        return
    await turn.send_card(cards.escalation_card(outcome.view))


async def _decided(turn: Turn, outcome: deep_dives.DiveOutcome, typed: dict[str, str]) -> None:
    """A deep-dive decision's answer: a refusal said; the card back with its problems; or
    the card replaced in place by the decision (made now, or already made by someone)."""
    if isinstance(outcome, deep_dives.DiveRefusal):
        await turn.say(outcome.message)
    elif isinstance(outcome, deep_dives.DiveProblems):
        await turn.replace_card(cards.deep_dive_card(outcome.view, typed, outcome.errors))
    else:  # decided now, or before by someone (the card says so, and that nothing changed)
        await turn.replace_card(cards.deep_dive_card(outcome.view))


async def accept_deep_dive(turn: Turn, action: AcceptDeepDive) -> None:
    now = turn.now
    outcome = await turn.uow.run(
        lambda tx: deep_dives.accept(
            tx, turn.person, action.deep_dive_id, action.review_date, action.lead, now, turn.policy
        )
    )
    await _decided(turn, outcome, action.fields)


async def decline_deep_dive(turn: Turn, action: DeclineDeepDive) -> None:
    now = turn.now
    outcome = await turn.uow.run(
        lambda tx: deep_dives.decline(
            tx, turn.person, action.deep_dive_id, action.reason, now, turn.policy, MAX_TEXT
        )
    )
    await _decided(turn, outcome, action.fields)


async def open_deep_dive(turn: Turn, action: OpenDeepDive) -> None:
    now = turn.now
    shown = await turn.attempt(
        lambda tx: deep_dives.open_view(tx, turn.person, action.deep_dive_id, now, turn.policy)
    )
    if shown is not None:
        await turn.send_card(cards.deep_dive_card(shown))


async def _after_closing(turn: Turn, outcome: ActionOutcome) -> None:
    """A refusal is said; otherwise the actions card is replaced by the person's list as it
    is now, headed by what happened."""
    if isinstance(outcome, ActionRefusal):
        await turn.say(outcome.message)
        return
    item = outcome.item
    what = f"{item.code} \u201c{cards.short(item.description)}\u201d"
    if isinstance(outcome, AlreadyClosed):
        by = f" by {outcome.by}" if outcome.by else ""
        on = f" on {long_day(today_in_london(outcome.at), year=False)}" if outcome.at else ""
        notice = f"Already {item.stored}: {what} was marked {item.stored}{on}{by}. Nothing changed."
    elif item.stored == "dropped":
        notice = f"Dropped: {what}. Its owner will no longer be asked about it."
    else:
        notice = f"Done: {what}. Thank you."
    await commands.send_actions(turn, notice=notice, replace=True)


async def mark_done(turn: Turn, action: MarkDone) -> None:
    now = turn.now
    outcome = await turn.uow.run(
        lambda tx: action_plans.mark_done(tx, turn.person, action.item_id, now)
    )
    await _after_closing(turn, outcome)


async def drop_action(turn: Turn, action: DropAction) -> None:
    if action.too_long:
        await turn.say(f"The reason is over {MAX_TEXT:,} characters: please shorten it.")
        return
    now = turn.now
    outcome = await turn.uow.run(
        lambda tx: action_plans.drop(tx, turn.person, action.item_id, action.reason, now)
    )
    await _after_closing(turn, outcome)


async def _overdue_card_again(
    turn: Turn, escalation_owner_id: int | None, outcome: overdue.Outcome
) -> None:
    """Draw the overdue card again in place, saying what the press did; a refusal is said
    in a reply and the card is left as it was."""
    if outcome.refused or escalation_owner_id is None:
        await turn.say(outcome.note)
        return
    now, person, policy = turn.now, turn.person, turn.policy

    async def read(tx: Any) -> overdue.Digest | None:
        scope = overdue.scope_for(
            person, escalation_owner_id, await overdue.led_services(tx, person)
        )
        if scope == []:  # not theirs, and no service of theirs on it: not drawn for them
            return None
        return await overdue.digest(tx, escalation_owner_id, now, policy, scope, outcome.note)

    found = await turn.uow.run(read)
    if found is None:
        await turn.say(outcome.note)
        return
    await turn.replace_card(cards.overdue_card(found, turn.today))


async def chase_for_me(turn: Turn, action: ChaseForMe) -> None:
    now = turn.now
    outcome = await turn.uow.run(
        lambda tx: overdue.chase_for_me(
            tx, turn.person, action.code, action.period, now, turn.policy
        )
    )
    await _overdue_card_again(turn, action.escalation_owner_id, outcome)


async def acknowledge_overdue(turn: Turn, action: AcknowledgeOverdue) -> None:
    now = turn.now
    outcome = await turn.uow.run(
        lambda tx: overdue.acknowledge(tx, turn.person, action.returns, now, turn.policy)
    )
    await _overdue_card_again(turn, action.escalation_owner_id, outcome)


async def _review_card_again(turn: Turn, outcome: signoff.Outcome) -> None:
    """Draw the review card again in place, headed by what the press did (the returns
    decided are gone from it); a refusal is said and the card left as it was."""
    if outcome.refused or outcome.period is None:
        await turn.say(outcome.note)
        return
    person, policy, period = turn.person, turn.policy, outcome.period
    card = await turn.uow.run(
        lambda tx: signoff.review_card(
            tx, person, period, policy, outcome.note, outcome.errors, outcome.typed
        )
    )
    await turn.replace_card(cards.review_card(card))


async def approve(turn: Turn, action: Approve) -> None:
    if not action.returns:
        await turn.say("That card names no return to approve. Type review to see what awaits you.")
        return
    now = turn.now
    outcome = await turn.uow.run(lambda tx: signoff.approve(tx, turn.person, action.returns, now))
    await _review_card_again(turn, outcome)


async def return_to_owner(turn: Turn, action: ReturnToOwner) -> None:
    now = turn.now
    outcome = await turn.uow.run(
        lambda tx: signoff.return_to_owner(
            tx, turn.person, action.return_id, action.comment, now, MAX_TEXT
        )
    )
    await _review_card_again(turn, outcome)


async def lock_period(turn: Turn, action: LockPeriod) -> None:
    now, person = turn.now, turn.person
    status = await turn.attempt(
        lambda tx: locks.lock(
            tx,
            action.period,
            person.email,
            now,
            action.reason,
            action.force,
            person=person,
            force_hint="turn on \u201cSign off as it stands\u201d",
        )
    )
    if status is not None:
        note = f"Signed off {status.period.label}: its returns can no longer be changed here."
        await turn.replace_card(cards.period_card(status, note))


async def unlock_period(turn: Turn, action: UnlockPeriod) -> None:
    now, person = turn.now, turn.person

    async def reopen(tx: Any) -> locks.PeriodStatus:
        await locks.unlock(tx, action.period, person.email, now, action.reason, person=person)
        return await locks.period_status(tx, action.period, now)

    status = await turn.attempt(reopen)
    if status is not None:
        note = f"Reopened {status.period.label}: owners can change its returns again."
        await turn.replace_card(cards.period_card(status, note))


async def open_measure(turn: Turn, action: OpenMeasure) -> None:
    """A summary line's button: the measure's detail in the presser's own chat. In a
    personal chat it comes in reply; pressed in a channel, it is queued to their chat (the
    channel is not told anything unless PerfBot cannot reach them there)."""
    today, person, policy = turn.today, turn.person, turn.policy
    # Who may see it first, before anything of the measure is read for the card: what the
    # board would show them (board.scope_of), or a measure they send returns for.
    if not await turn.uow.run(lambda tx: summary.may_see_detail(tx, person, action.code)):
        await turn.say(
            f"The detail of {action.code.upper()[:16]} is for those who own, send or oversee it, "
            "the Leadership Team and the performance team: type my measures for your own."
        )
        return
    if turn.ctx.activity.conversation.conversation_type in (None, "personal"):
        found = await turn.attempt(lambda tx: summary.detail(tx, action.code, today, policy))
        if found is not None:
            await turn.send_card(cards.measure_detail_card(found))
        return
    now = turn.now
    why = await turn.uow.run(
        lambda tx: summary.send_detail(tx, person, action.code, turn.ctx.activity.id or "", now)
    )
    if why:
        await turn.say(why)


async def open_report(turn: Turn, action: OpenReport) -> None:
    """Open the board, on the weekly summary and the status card: the presser's own link to
    the board for the card's quarter, in their personal chat (commands.send_report_link)."""
    await commands.send_report_link(turn, action.kind, action.period)


async def open_milestone(turn: Turn, action: OpenMilestone) -> None:
    """A milestone's card, for its owner (or its key action's owner or delegate)."""
    person, today = turn.person, turn.today

    async def read(tx: Any) -> tuple[Milestone, str]:
        found = await milestones.checked(tx, person, action.milestone_id)
        return found, await _updated_by(tx, found)

    found = await turn.attempt(read)
    if found is not None:
        await turn.send_card(cards.milestone_card(found[0], today, updated_by=found[1]))


async def _updated_by(tx: Any, milestone: Milestone) -> str:
    who = await tx.get(Person, milestone.updated_by_id) if milestone.updated_by_id else None
    return who.name if who is not None else ""


async def update_milestone(turn: Turn, form: MilestoneForm) -> None:
    """The milestone card's Save: its status and revised date; a problem comes back on the
    card with what was typed, and nothing is stored."""
    person, now, today = turn.person, turn.now, turn.today
    typed = {ids.MILESTONE_STATUS: form.status, ids.REVISED_DATE: form.revised_date}
    command = milestones.UpdateMilestone(form.milestone_id, form.status, form.revised_date)

    async def save(tx: Any) -> tuple[Milestone, str, dict[str, str]]:
        try:
            done = await milestones.update(tx, person, command, now)
        except milestones.MilestoneProblems as problems:
            errors = {
                ids.MILESTONE_STATUS if name == milestones.STATUS else ids.REVISED_DATE: text
                for name, text in problems.errors.items()
            }
            return problems.milestone, "Nothing was saved.", errors
        return done.milestone, done.note, {}

    try:
        saved = await turn.uow.run(save)
    except Refused as refusal:
        await turn.say(str(refusal))
        return
    milestone, note, errors = saved
    if errors:
        card = cards.milestone_card(milestone, today, typed, errors, note)
    else:
        card = cards.milestone_card(milestone, today, note=note, updated_by=person.name)
    await turn.replace_card(card)


CARD_ACTIONS: dict[Verb, CardActionHandler] = {
    Verb.SUBMIT_RETURN: submit_return,
    Verb.NOT_AVAILABLE: not_available,
    Verb.OPEN_RETURN: open_return,
    Verb.MY_MEASURES: my_measures,
    Verb.ACKNOWLEDGE: acknowledge,
    Verb.AGREE_REMEDIAL: agree_remedial,
    Verb.ASK_OWNER: ask_owner,
    Verb.ANSWER_QUESTION: answer_question,
    Verb.REQUEST_DEEP_DIVE: request_deep_dive,
    Verb.STOP_ACTIVITY: stop_activity,
    Verb.OPEN_ESCALATION: open_escalation,
    Verb.ACCEPT_DEEP_DIVE: accept_deep_dive,
    Verb.DECLINE_DEEP_DIVE: decline_deep_dive,
    Verb.OPEN_DEEP_DIVE: open_deep_dive,
    Verb.MARK_DONE: mark_done,
    Verb.DROP_ACTION: drop_action,
    Verb.CHASE_FOR_ME: chase_for_me,
    Verb.ACKNOWLEDGE_OVERDUE: acknowledge_overdue,
    Verb.APPROVE: approve,
    Verb.RETURN_TO_OWNER: return_to_owner,
    Verb.LOCK_PERIOD: lock_period,
    Verb.UNLOCK_PERIOD: unlock_period,
    Verb.OPEN_MEASURE: open_measure,
    Verb.OPEN_REPORT: open_report,
    Verb.OPEN_MILESTONE: open_milestone,
    Verb.UPDATE_MILESTONE: update_milestone,
}
