"""What each kind of queued message says: one table from kind to its message builder, and
whether the row is checked against the database again just before it goes (kinds whose
sending depends on data that can change while they wait: a return submitted, a snooze set).

To add a kind of proactive message: a ``Kind`` (domain/notifications.py), the use case that
queues it, and one line here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from botbuilder.core import MessageFactory
from botbuilder.schema import Activity
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot import web
from bot.settings import Settings
from cards import render as cards
from cards.chart import Chart, ratings_chart
from domain import board, deep_dives, escalations, leadership, signoff, summary, views
from domain import overdue as overdue_digests
from domain.board import ReportKind
from domain.cover import covering_notice
from domain.dates import long_day
from domain.model import DeepDive, Measure, Notification, Person
from domain.notifications import Kind
from domain.periods import Period
from domain.policy import Policy
from domain.questions import answered
from domain.weekly import SummarySchedule
from domain.workdays import WorkingCalendar


@dataclass(frozen=True)
class Reading:
    """What a builder may read: the database (for the kinds checked at send time, whose
    messages show current data), the moment, the council's policy and working calendar."""

    session: AsyncSession | None
    now: datetime
    policy: Policy
    calendar: WorkingCalendar
    # What a builder keeps for its message's ``after_sent`` (the periods a summary showed).
    kept: dict[str, Any] = field(default_factory=dict)
    # The sender's settings, for messages that carry a signed link (bot/web.py).
    settings: Settings | None = None


Builder = Callable[[Reading, dict[str, Any], Person | None], Awaitable[Activity]]


@dataclass(frozen=True)
class Sent:
    """A row just marked sent, for its kind's ``after_sent``."""

    reason_key: str
    at: datetime
    kept: dict[str, Any]


# Written in the transaction that marks the row sent, so it stands or falls with that mark.
AfterSent = Callable[[AsyncConnection, Sent], Awaitable[None]]


@dataclass(frozen=True)
class Refusal:
    """A row Teams refused for good (403, 404), for its kind's ``after_refused``: in the
    transaction that marks it failed."""

    session: AsyncSession
    notification: Notification
    why: str
    now: datetime
    schedule: SummarySchedule


AfterRefused = Callable[[Refusal], Awaitable[None]]


@dataclass(frozen=True)
class Message:
    build: Builder
    checked_at_send: bool = False
    after_sent: AfterSent | None = None
    # What else happens when Teams refuses it for good (beyond marking the person unreachable).
    after_refused: AfterRefused | None = None


def _notice(title: str, body: str, *, warning: bool = True) -> Activity:
    activity = MessageFactory.attachment(
        cards.attachment(cards.notice_card(title, body, warning=warning))
    )
    activity.summary = title
    return activity


async def _return_card(reading: Reading, payload: dict[str, Any], text: str) -> Activity:
    """The message and the return card for the return a reminder or chaser is about,
    rendered at send time from the current data."""
    session = reading.session
    assert session is not None  # checked at send time, so built with the database at hand
    measure = await session.scalar(select(Measure).where(Measure.code == payload["code"]))
    assert measure is not None  # still_wanted checked it
    today = views.today_in_london(reading.now)
    item = await views.open_return(
        session, measure, today, reading.policy, reading.calendar, Period.parse(payload["period"])
    )
    text = text.format(
        title=f"{measure.code} {measure.title} for {item.period.label}",
        due=long_day(item.deadline, year=False),
    )
    # To someone covering for an away owner: it says so, above the text and on the card.
    covering = await covering_notice(session, payload, today)
    if covering:
        text = f"{covering} {text}"
    card = cards.return_card(item, today, notice=covering or "", required=reading.policy.required)
    activity = MessageFactory.attachment(cards.attachment(card))
    activity.text = text
    activity.summary = text
    return activity


async def reminder(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    when = "today" if payload.get("step") == "T" else "on {due}"
    return await _return_card(
        reading, payload, f"Reminder: {{title}} is due {when}. The card below takes the figure."
    )


def _braced(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


async def chaser(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    if payload.get("asked_by"):  # "Chase for me" on an overdue digest: firmer, naming who asked
        asked, escalation_owner = str(payload["asked_by"]), str(payload.get("for") or "")
        if escalation_owner and escalation_owner != asked:
            asked += f" (for {escalation_owner}, the escalation owner)"
        what = f"{payload.get('code', '')} for {payload.get('period', '')}"
        return await _return_card(
            reading,
            payload,
            _braced(f"{asked} has asked me to chase {what}, due on ")
            + "{due}: please send it today, or choose Not available yet and say why it is not "
            "available.",
        )
    return await _return_card(
        reading,
        payload,
        "{title} was due on {due} and hasn't arrived yet. Please send it today, or choose Not "
        "available yet and say why.",
    )


async def overdue(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    if payload.get("for_id"):  # the daily digest (domain/overdue.py), read at send time
        assert reading.session is not None  # checked at send time
        services = payload.get("services")
        found = await overdue_digests.digest(
            reading.session, int(payload["for_id"]), reading.now, reading.policy, services
        )
        card = cards.overdue_card(found, views.today_in_london(reading.now))
        activity = MessageFactory.attachment(cards.attachment(card))
        activity.summary = card["body"][0]["text"]
        return activity
    code, period = payload.get("code", ""), payload.get("period", "")
    deadline = payload.get("deadline", "")
    due = long_day(date.fromisoformat(deadline)) if deadline else "its deadline"
    title = f"Overdue: {code} for {period}"
    body = (
        f"The return for {code} ({period}) was due on {due} and has not been received, though "
        "its owner has been chased. Please follow it up with them."
    )
    if payload.get("for"):  # a copy for the performance team: the escalation owner is unreachable
        title = f"For {payload['for']}: {title}"
        body = (
            f"PerfBot cannot reach {payload['for']} yet ({payload.get('why', 'not installed')}); "
            f"they will get this as soon as they install PerfBot. Meanwhile, please pass it on.\n\n{body}"
        )
    return _notice(title, body)


def _card_message(card: dict[str, Any], text: str) -> Activity:
    activity = MessageFactory.attachment(cards.attachment(card))
    activity.text = text
    activity.summary = text
    return activity


async def escalation(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    """The escalation card, drawn from the database as it stands when it goes; a copy for
    the performance team (the escalation owner cannot be reached) says whom it is for."""
    assert reading.session is not None  # checked at send time
    note = ""
    if payload.get("for"):
        note = (
            f"For {payload['for']}: PerfBot cannot reach them yet "
            f"({payload.get('why', 'not installed')}); they will get this as soon as they "
            "install PerfBot. Meanwhile, please pass it on, or act on it yourself."
        )
    view = await escalations.for_card(reading.session, payload, reading.now, reading.policy, note)
    if view is None:
        return _escalation_notice(payload)
    text = f"Escalation: {view.code} for {view.period} is rated {view.rating}."
    if view.milestone:  # a milestone past its date: [("Milestone", its title), ...]
        text = (
            f"Escalation: {view.code}'s milestone '{view.milestone[0][1]}' is past its date "
            f"and not complete, so it is rated {view.rating}."
        )
    if payload.get("for"):
        text = f"For {payload['for']}: {text}"
    return _card_message(cards.escalation_card(view), text)


async def escalation_update(
    reading: Reading, payload: dict[str, Any], person: Person | None
) -> Activity:
    """The escalation card again, as it now stands: the dispatcher puts it in place of the
    card sent for ``payload["updates"]`` (or sends it anew if it cannot)."""
    assert reading.session is not None
    view = await escalations.for_card(reading.session, payload, reading.now, reading.policy)
    if view is None:
        return _notice("PerfBot", "That escalation is no longer in PerfBot.")
    return _card_message(
        cards.escalation_card(view), f"Escalation: {view.code} for {view.period}, updated."
    )


async def escalation_reminder(
    reading: Reading, payload: dict[str, Any], person: Person | None
) -> Activity:
    assert reading.session is not None
    raised = payload.get("raised")
    on = f" on {long_day(date.fromisoformat(raised))}" if raised else ""
    view = await escalations.for_card(reading.session, payload, reading.now, reading.policy)
    if view is None:
        return _notice("PerfBot", "That escalation is no longer in PerfBot.")
    text = (
        f"Reminder: {view.code} for {view.period} was escalated to you{on} and has not been "
        "acknowledged yet."
    )
    view = replace(view, note=text)
    return _card_message(cards.escalation_card(view), text)


async def question(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    """The escalation owner's question, to the measure's owner, with an answer box."""
    assert reading.session is not None
    card = await escalations.question_card(reading.session, int(payload.get("question_id") or 0))
    if card is None:
        return _notice("PerfBot", "That question is no longer in PerfBot.")
    who = card.asked_by
    text = f"{who} has a question on {card.code} for {card.period}."
    return _card_message(cards.question_card(card), text)


async def answer(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    assert reading.session is not None
    card = await escalations.question_card(reading.session, int(payload.get("question_id") or 0))
    if card is None or not card.answered:
        return _notice("PerfBot", "That question is no longer in PerfBot.")
    who = card.answered_by
    title = f"{who} answered your question on {card.code}"
    body = f"You asked: {card.question}\n\n{who} answered: {card.answer}"
    activity = _notice(title, body, warning=False)
    activity.text = f"{title}: {card.answer}"
    return activity


async def recovered(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    code, period = payload.get("code", ""), payload.get("period", "")
    by = payload.get("by") or "Its owner"
    return _notice(
        f"Recovered: {code} for {period} is back on track",
        f"{by} corrected {code} {payload.get('title', '')} for {period} to "
        f"{payload.get('shown', '')}. {payload.get('explanation', '')} The escalation is "
        "closed; nothing more is needed from you for it.",
        warning=False,
    )


async def stopped(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    code, period = payload.get("code", ""), payload.get("period", "")
    by = payload.get("by") or "The escalation owner"
    return _notice(
        f"{code} has been stopped",
        f"{by} has stopped {code} {payload.get('title', '')} (escalated for {period}). "
        f"Their reason: {payload.get('reason', '')}\n\nIt stays in PerfBot until the "
        "performance team retires it; ask them if it should not.",
    )


def _escalation_notice(payload: dict[str, Any]) -> Activity:
    """The escalation in words, from what was queued (its escalation is gone)."""
    code, period = payload.get("code", ""), payload.get("period", "")
    title = f"Escalation: {code} for {period} is rated {payload.get('rating', '')}"
    lines = [f"{code} {payload.get('title', '')}".strip() + f", {period}."]
    lines.append(str(payload.get("explanation", "")))
    owner, sent_by = payload.get("owner"), payload.get("sent_by")
    if owner:
        by = f" (sent by {sent_by})" if sent_by and sent_by != owner else ""
        lines.append(f"Owner: {owner}{by}.")
    if payload.get("commentary"):
        lines.append(f"Their commentary: {payload['commentary']}")
    said = payload.get("answers")
    for question, answer in answered(said if isinstance(said, dict) else {}):
        lines.append(f"{question.heading}: {answer}")
    if payload.get("action"):
        due = payload.get("action_due")
        when = f" (by {long_day(date.fromisoformat(due))})" if due else ""
        lines.append(f"Their action{when}: {payload['action']}")
    lines.append("Please agree the remedial action with them.")
    if payload.get("for"):  # a copy for the performance team: the escalation owner is unreachable
        title = f"For {payload['for']}: {title}"
        lines.insert(
            0,
            f"PerfBot cannot reach {payload['for']} yet ({payload.get('why', 'not installed')}); "
            "they will get this as soon as they install PerfBot. Meanwhile, please pass it on.",
        )
    return _notice(title, "\n\n".join(line for line in lines if line))


async def deep_dive(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    """A deep-dive candidate, rendered at send time (its history, action plan, and any
    decision made meanwhile by another of the Leadership Team)."""
    session = reading.session
    assert session is not None  # checked at send time, so built with the database at hand
    dive = await session.get(DeepDive, int(payload.get("deep_dive_id") or 0))
    if dive is None:  # deleted with its measure since it was queued
        return _notice("PerfBot", f"The deep dive for {payload.get('measure', '')} was removed.")
    shown = await deep_dives.view(
        session, dive, views.today_in_london(reading.now), reading.policy, payload.get("note", "")
    )
    text = f"Deep dive suggested for {shown.measure.code} {shown.measure.title}: {shown.why}"
    activity = MessageFactory.attachment(cards.attachment(cards.deep_dive_card(shown)))
    activity.summary = text
    return activity


async def deep_dive_decided(
    reading: Reading, payload: dict[str, Any], person: Person | None
) -> Activity:
    code, period = payload.get("measure", ""), payload.get("label", "")
    what = f"{code} {payload.get('title', '')}".strip()
    if payload.get("decision") == "declined":
        return _notice(
            f"Deep dive declined: {code} for {period}",
            f"{payload.get('by', 'The Leadership Team')} declined the deep dive into {what} "
            f"you asked for. Their reason: {payload.get('reason', '')}",
            warning=False,
        )
    review = payload.get("review_date", "")
    when = long_day(date.fromisoformat(review)) if review else "a date to be set"
    return _notice(
        f"Deep dive agreed: {code} for {period}",
        f"{payload.get('by', 'The Leadership Team')} has agreed a deep dive into {what}. The "
        f"review is on {when}, led by {payload.get('lead', 'someone to be named')}. Please have "
        "its figures, commentary and action plan ready.",
    )


def _codes(payload: dict[str, Any], key: str = "codes") -> list[str]:
    return [str(c) for c in payload.get(key) or []]


async def delegated(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    code = payload.get("code", "")
    codes = _codes(payload) or [code]
    if len(codes) > 1:  # delegate all
        listed = views.in_words(codes)
        return _notice(
            f"You can now send {len(codes)} measures' returns",
            f"{payload.get('by', 'The owner')} has made you a delegate for {listed}. You'll "
            f"get their reminders too; type submit {codes[0]} (or the measure's code) when a "
            "figure is ready, or my measures to see them all.",
            warning=False,
        )
    return _notice(
        f"You can now send {code}'s returns",
        f"{payload.get('by', 'The owner')} has made you a delegate for {code}. You'll get its "
        f"reminders too; type submit {code} when the figure is ready.",
        warning=False,
    )


async def undelegated(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    code = payload.get("code", "")
    return _notice(
        f"You no longer send {code}'s returns",
        f"{payload.get('by', 'Its owner')} has removed you as a delegate for {code}, so its "
        "reminders no longer come to you and you can no longer send its returns.",
        warning=False,
    )


async def cover(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    """To someone covering for an away owner: whose measures, which, and until when."""
    owner, codes = str(payload.get("for", "Their owner")), _codes(payload)
    back = date.fromisoformat(str(payload["until"]))
    until = long_day(back)
    listed = views.in_words(codes)
    own = _codes(payload, "as_delegate")
    also = (
        f" You are a delegate for {views.in_words(own)} already; now you are the one it asks."
        if own
        else ""
    )
    return _notice(
        f"You are covering for {owner} until {long_day(back, year=False)}",
        f"{owner} is away until {until}, so until then the reminders and chasers for {listed} "
        f"come to you instead, and you can send {'its' if len(codes) == 1 else 'their'} "
        f"returns: type submit {codes[0] if codes else 'CODE'} when a figure is ready, or my "
        f"measures to see what is due.{also} From {until} they go to {owner} again.",
        warning=False,
    )


async def cover_ended(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    owner, codes = str(payload.get("for", "Their owner")), _codes(payload)
    listed = views.in_words(codes)
    own = _codes(payload, "as_delegate")
    kept = (
        f" You are still a delegate for {views.in_words(own)}, so you can send "
        f"{'its' if len(own) == 1 else 'their'} returns as before."
        if own
        else ""
    )
    if payload.get("why") == "back":
        title = f"{owner} is back: your cover has ended"
        body = f"{owner} is back, so the reminders and chasers for {listed} go to them again."
    else:
        title = f"Your cover for {owner} has ended"
        body = (
            f"{owner} has chosen someone else to cover while they are away, so the reminders "
            f"and chasers for {listed} no longer come to you."
        )
    return _notice(title, body + kept, warning=False)


async def unknown_user(
    reading: Reading, payload: dict[str, Any], person: Person | None
) -> Activity:
    email = f"({payload['email']}) " if payload.get("email") else ""
    return _notice(
        "Someone not in the staff list tried PerfBot",
        f"{payload.get('name') or 'Someone'} {email}messaged PerfBot but is not in the people "
        "sheet. Add them if they should report.",
    )


SETUP_POLICY = (
    "To fix it: ask them to open Teams, search Apps for PerfBot and add it; or have your Teams "
    "administrator add PerfBot to an app setup policy (Teams admin centre, Teams apps, Setup "
    "policies, Installed apps), which installs it for everyone the policy covers. Once they "
    "have it, PerfBot sends them what is waiting at once."
)


async def unreachable(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    people = payload.get("people") or []
    lines = []
    for who in people:
        since = f" since {long_day(date.fromisoformat(who['since']))}" if who.get("since") else ""
        waiting = ", ".join(who.get("waiting") or [])
        if who.get("more"):
            waiting += f" and {who['more']} more"
        line = f"{who['name']} ({who['email']}): {who['why']}{since}."
        lines.append(line + (f" Waiting for them: {waiting}." if waiting else ""))
    count = len(people)
    return _notice(
        f"PerfBot cannot reach {count} {'person' if count == 1 else 'people'}",
        "\n\n".join([*lines, SETUP_POLICY]),
    )


async def reply(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    """A reply Teams would not take during the turn (it was throttling): the same card or
    text, sent when it will."""
    if isinstance(payload.get("card"), dict):
        return MessageFactory.attachment(cards.attachment(payload["card"]))
    return MessageFactory.text(str(payload.get("text", "")))


async def plain(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    """A row of a kind this PerfBot does not know (queued by a newer one): its text."""
    return _notice("PerfBot", str(payload.get("text", "")))


async def review(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    """A reviewer's card for one period (or a return sent again after they returned it),
    drawn when it goes, so it lists everything that awaits them then."""
    assert reading.session is not None  # checked at send time
    card = await signoff.card_for(reading.session, payload, reading.policy)
    if card is None:
        return _notice("PerfBot", "Returns await your approval: type review to see them.")
    count = len(card.items) + card.more
    text = card.note or (
        f"{count} return{'s' if count != 1 else ''} for {card.period} "
        f"({cards.months_of(card.period)}) "
        f"await{'s' if count == 1 else ''} your approval."
    )
    return _card_message(cards.review_card(card), text)


async def returned(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    """A return sent back by its reviewer: their comment, and the return card filled in as
    the owner sent it, to change and send again."""
    assert reading.session is not None
    found = await signoff.returned_card(
        reading.session, payload, reading.now, reading.policy, reading.calendar
    )
    title = f"{payload.get('code', 'Your return')} for {payload.get('period', '')}".strip()
    by = payload.get("by", "Your reviewer")
    if found is None:
        return _notice(f"{title} was returned", f"{by}: {payload.get('comment', '')}")
    item, values, comment = found
    notice = (
        f"{by} returned this to you with a comment: \u201c{comment}\u201d Change what is "
        "needed below and press Submit to send it again; it goes back to them."
    )
    card = cards.return_card(
        item,
        views.today_in_london(reading.now),
        values,
        notice=notice,
        required=reading.policy.required,
    )
    return _card_message(card, f"{title} was returned to you by {by}, with a comment.")


async def measure_detail(
    reading: Reading, payload: dict[str, Any], person: Person | None
) -> Activity:
    """A measure's history and commentary, asked for from a summary in a channel: drawn when
    it goes, in the personal chat of whoever pressed the button."""
    assert reading.session is not None
    code = str(payload.get("code", ""))
    try:
        found = await summary.detail(
            reading.session, code, views.today_in_london(reading.now), reading.policy
        )
    except views.Refused as refusal:
        return _notice("PerfBot", str(refusal))
    return _card_message(cards.measure_detail_card(found), f"{code}: its history and commentary.")


async def report_link(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    """Open the board, pressed in a channel: the presser's link, made as it goes (so its
    hours start when they get it), for what they may see then."""
    assert reading.session is not None  # checked at send time
    if person is None or reading.settings is None:
        return _notice("PerfBot", "Press Open the board again for a link to the board.")
    kind = ReportKind(str(payload.get("kind") or "board"))
    period = Period.parse(str(payload.get("period") or ""))
    scope = await board.scope_of(reading.session, person)
    if scope.nothing:
        return _notice("PerfBot", web.NOTHING_TO_SEE, warning=False)
    card = web.link_card(reading.settings, person, scope, kind, period, reading.now)
    return _card_message(card, f"{kind.heading}: {period.label}: your link.")


async def summary_chart(found: summary.Summary) -> Chart | None:
    """The summary's chart (cards/chart.py), drawn in a thread: it takes the time of a
    database round or two, which the event loop should not wait for."""
    return await asyncio.to_thread(ratings_chart, found)


async def weekly_summary(
    reading: Reading, payload: dict[str, Any], person: Person | None
) -> Activity:
    """The Leadership Team's weekly summary, built as the database stands when it goes, with
    its movements since the previous summary that went."""
    assert reading.session is not None  # checked at send time
    day = date.fromisoformat(payload["day"]) if payload.get("day") else None
    since = await leadership.since(reading.session, day)
    found = await summary.build(reading.session, reading.now, reading.policy, since, day)
    reading.kept["periods"] = list(found.shown)
    card = cards.summary_card(found, await summary_chart(found))
    text = f"The weekly performance summary for the week of {long_day(found.week_of)}."
    return _card_message(card, text)


async def summary_published(connection: AsyncConnection, sent: Sent) -> None:
    await leadership.published(
        connection, sent.reason_key, list(sent.kept.get("periods") or []), sent.at
    )


async def summary_refused(refusal: Refusal) -> None:
    await leadership.channel_refused(
        refusal.session, refusal.notification, refusal.why, refusal.now, refusal.schedule
    )


async def no_channel(reading: Reading, payload: dict[str, Any], person: Person | None) -> Activity:
    names = list(payload.get("people") or [])
    went = (
        f"This week's summary went to each of the Leadership Team in their personal chat "
        f"({', '.join(names)})."
        if names
        else "Nobody has the leadership role in the people sheet, so this week's summary went "
        "to nobody."
    )
    if payload.get("refused"):
        return _notice(
            "The leadership channel refused the weekly summary",
            f"{payload['refused']}. PerfBot has cleared the channel. {went} To have it "
            "posted in a channel again: add PerfBot to the Leadership Team's team in Teams, "
            "then type set leadership channel in that channel; or run perfbot leadership "
            "set-channel --team TEAM --channel CHANNEL.",
        )
    return _notice(
        "No leadership channel is set",
        f"{went} To have it posted in the Leadership Team's channel ({payload.get('every', '')}) "
        "instead: add PerfBot to their team in Teams, then type set leadership channel in that "
        "channel; or run perfbot leadership set-channel --team TEAM --channel CHANNEL.",
    )


MESSAGES: dict[Kind, Message] = {
    Kind.REMINDER: Message(reminder, checked_at_send=True),
    Kind.CHASER: Message(chaser, checked_at_send=True),
    Kind.OVERDUE: Message(overdue, checked_at_send=True),
    Kind.ESCALATION: Message(escalation, checked_at_send=True),
    Kind.ESCALATION_UPDATE: Message(escalation_update, checked_at_send=True),
    Kind.ESCALATION_REMINDER: Message(escalation_reminder, checked_at_send=True),
    Kind.QUESTION: Message(question, checked_at_send=True),
    Kind.ANSWER: Message(answer, checked_at_send=True),
    Kind.RECOVERED: Message(recovered),
    Kind.STOPPED: Message(stopped),
    Kind.DELEGATED: Message(delegated),
    Kind.UNDELEGATED: Message(undelegated),
    Kind.COVER: Message(cover, checked_at_send=True),
    Kind.COVER_ENDED: Message(cover_ended),
    Kind.UNKNOWN_USER: Message(unknown_user),
    Kind.UNREACHABLE: Message(unreachable),
    Kind.REPLY: Message(reply),
    Kind.DEEP_DIVE: Message(deep_dive, checked_at_send=True),
    Kind.DEEP_DIVE_DECIDED: Message(deep_dive_decided),
    Kind.REVIEW: Message(review, checked_at_send=True),
    Kind.RESUBMITTED: Message(review, checked_at_send=True),
    Kind.RETURNED: Message(returned, checked_at_send=True),
    Kind.MEASURE_DETAIL: Message(measure_detail, checked_at_send=True),
    Kind.REPORT_LINK: Message(report_link, checked_at_send=True),
    Kind.WEEKLY_SUMMARY: Message(
        weekly_summary,
        checked_at_send=True,
        after_sent=summary_published,
        after_refused=summary_refused,
    ),
    Kind.NO_CHANNEL: Message(no_channel),
}
UNKNOWN_KIND = Message(plain)


def message_for(kind: str) -> Message:
    try:
        return MESSAGES[Kind(kind)]
    except ValueError:
        return UNKNOWN_KIND
