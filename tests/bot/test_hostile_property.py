"""Hostile and careless input, generated (issue 17): Hypothesis makes activities, card presses
and typed messages as an attacker or a broken client would, and posts them to the real app
on the sample council. Whatever it makes: no 5xx, no crashed turn (the generic apology is for
real faults only), nothing invalid stored, and the council's export still works afterwards.

The run is short in `make test` (PERFBOT_HOSTILE_EXAMPLES, default 120 posts a database);
set it higher for a longer hunt, e.g. PERFBOT_HOSTILE_EXAMPLES=5000."""

from __future__ import annotations

import asyncio
import copy
import os
import unicodedata
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.app import BOT, SESSIONS
from cards.actions import INPUTS, MAX_TEXT, Verb, ids
from cards.seal import HIDDEN, buttons, seal
from domain.model import AuditEntry, Return, Scheme
from domain.periods import Period
from domain.reporting import performance
from tests.bot.conftest import AMINA, GARETH, MARK, STRANGER, Teams

EXAMPLES = int(os.environ.get("PERFBOT_HOSTILE_EXAMPLES", "") or 120)
APOLOGY = "something went wrong on PerfBot's side"
FORGED = "a-card-made-by-hand"  # the replyToId of the hand-made and altered card presses

HOSTILE_TEXT = [
    "",
    " ",
    "\udfff",
    "a\ud800b",
    "\x00",
    "\u200b\u200b\u2060\ufeff",
    "\x1b[31mred",
    "e\u0301",
    "x" * 5_000,
    "y" * 100_000,
    "9" * 40,
    "1e999",
    "NaN",
    "-0",
    "66.5",
    "85%",
    "£1,234.50",
    "0001/02 M1",
    "1900/01 M1",
    "10000/01 M1",
    "2026/27 M7",
    "2026/27 Q2",
    "RB-01",
    "ZZ-99",
    "2027-01-29",
    "31/02/2027",
    "1 OR 1=1",
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    "@everyone",
    "amina.hussain@kingsmere.gov.uk",
]
text = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=40))
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
# Where a mutation lands: a top-level field, or one inside the objects Teams nests.
PATHS = [
    ("type",),
    ("id",),
    ("timestamp",),
    ("serviceUrl",),
    ("channelId",),
    ("from",),
    ("from", "id"),
    ("from", "aadObjectId"),
    ("recipient",),
    ("conversation",),
    ("conversation", "id"),
    ("conversation", "conversationType"),
    ("conversation", "tenantId"),
    ("channelData",),
    ("channelData", "team"),
    ("channelData", "tenant"),
    ("entities",),
    ("attachments",),
    ("membersAdded",),
    ("text",),
    ("value",),
    ("name",),
    ("replyToId",),
    ("locale",),
]
REMOVE = object()
USERS = [AMINA, GARETH, MARK, STRANGER]
KINDS = ["message", "invoke", "conversationUpdate", "installationUpdate", "typing", "event"]
# Genuine cards' hidden data: what PerfBot issues to these people for their own measures.
GENUINE = [
    {"code": "RB-01", "period": "2026/27 M7"},
    {"code": "RB-02", "period": "2026/27 M7"},
    {"code": "RB-04", "period": "2026/27 M7"},
    {"code": "KA-05", "period": "2026/27 Q2"},
    {"period": "2026/27 M7"},
    {"escalation": "1"},
    {"item": "1"},
    {"deep_dive": "1"},
    {"question": "1"},
    {"return": "1"},
    {"returns": [1, 2]},
    {"kind": "board", "period": ""},
]
FAIR = {
    ids.ACTUAL: "66.5",
    ids.COMMENTARY: "On profile",
    ids.ACTION: "Weekly recovery meeting",
    ids.ACTION_DUE: "2027-01-29",
}
CARD_INPUTS = [*INPUTS, ids.REMEDIAL, ids.QUESTION, ids.ANSWER, ids.LOCK_REASON, "progress_1"]


def mutated(base: dict[str, Any], changes: list[tuple[tuple[str, ...], Any]]) -> dict[str, Any]:
    body = copy.deepcopy(base)
    for path, value in changes:
        target = body
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        if value is REMOVE:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
    return body


def visible(words: str) -> bool:
    return any(unicodedata.category(c)[0] in "LNPS" for c in words)


async def test_thousands_of_hostile_posts_break_nothing_and_store_nothing_invalid(teams: Teams):
    for user in (AMINA, GARETH, MARK):
        await teams.install(user)
    keyring = await teams.client.app[BOT].services.keys.ready()
    loop = asyncio.get_running_loop()
    async with teams.client.app[SESSIONS]() as session:
        before = {r.id for r in await session.scalars(select(Return))}
    crashes: list[str] = []
    statuses: Counter[int] = Counter()
    forged: list[int] = []  # card presses by people PerfBot knows whose seal cannot hold

    def post(body: dict[str, Any]) -> int:
        sent = len(teams.connector.sent())
        status = asyncio.run_coroutine_threadsafe(teams.post(body), loop).result(60)
        statuses[status] += 1
        said = [c.body.get("text") or "" for c in teams.connector.sent()[sent:]]
        crashes.extend(t for t in said if APOLOGY in t)
        return status

    async def count_refused() -> int:
        async with teams.client.app[SESSIONS]() as session:
            return int(
                await session.scalar(
                    select(func.count())
                    .select_from(AuditEntry)
                    .where(AuditEntry.action == "refused altered card")
                )
                or 0
            )

    def audited() -> int:
        return asyncio.run_coroutine_threadsafe(count_refused(), loop).result(60)

    def sealed(verb: Verb, hidden: dict[str, Any], typed: dict[str, Any]) -> dict[str, Any]:
        data = {"verb": verb.value, **{k: v for k, v in hidden.items() if k in HIDDEN[verb]}}
        card = {"type": "AdaptiveCard", "actions": [{"type": "Action.Submit", "data": data}]}
        return {**buttons(seal(card, keyring))[0], **typed}

    shaped = st.builds(
        lambda user, kind, changes: mutated(teams.activity(user, kind, text="help"), changes),
        st.sampled_from(USERS),
        st.sampled_from(KINDS),
        st.lists(
            st.tuples(st.sampled_from(PATHS), st.one_of(json_value, st.just(REMOVE))), max_size=3
        ),
    )
    typed_command = st.builds(
        lambda user, words: teams.activity(user, text=words, textFormat="plain"),
        st.sampled_from(USERS),
        st.one_of(
            text,
            st.builds(
                lambda command, rest: f"{command} {rest}",
                st.sampled_from(
                    ["submit", "snooze", "delegate", "status", "board", "review", "period"]
                ),
                text,
            ),
        ),
    )
    inputs = st.dictionaries(st.sampled_from(CARD_INPUTS), st.one_of(text, json_value), max_size=5)
    # A return that would be stored but for what hostile text adds to it.
    nearly_valid = st.builds(
        lambda typed, words: {**FAIR, **typed, ids.COMMENTARY: f"{FAIR[ids.COMMENTARY]}{words}"},
        st.dictionaries(st.sampled_from(CARD_INPUTS), text, max_size=2),
        text,
    )
    genuine_press = st.builds(
        lambda user, verb, hidden, typed: teams.activity(
            user, replyToId="card-1", value=sealed(verb, hidden, typed)
        ),
        st.sampled_from([AMINA, AMINA, GARETH, MARK]),
        st.sampled_from(list(Verb)),
        st.sampled_from(GENUINE),
        st.one_of(inputs, nearly_valid),
    )
    return_press = st.builds(
        lambda user, verb, hidden, typed: teams.activity(
            user, replyToId="card-1", value=sealed(verb, hidden, typed)
        ),
        st.sampled_from([AMINA, GARETH]),
        st.sampled_from([Verb.SUBMIT_RETURN, Verb.SUBMIT_RETURN, Verb.NOT_AVAILABLE]),
        st.sampled_from(GENUINE[:4]),
        nearly_valid,
    )
    forged_press = st.builds(
        lambda user, verb, hidden, typed: teams.activity(
            user, replyToId=FORGED, value={"verb": verb, **hidden, **typed}
        ),
        st.sampled_from(USERS),
        st.one_of(st.sampled_from([v.value for v in Verb]), text),
        st.dictionaries(st.sampled_from(["code", "period", "escalation", "item", "sig"]), text),
        inputs,
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(shaped, typed_command, genuine_press, return_press, forged_press))
    def one(body: dict[str, Any]) -> None:
        made_by_hand = body.get("replyToId") == FORGED and body["from"]["id"] != STRANGER.teams_id
        audited_before = audited() if made_by_hand else 0
        status = post(body)
        if made_by_hand and status == 201:  # reached a turn (not refused at the edge):
            forged.append(status)  # refused there, and kept in the audit log
            assert audited() == audited_before + 1, body
        assert status < 500, (status, body)
        assert not crashes, (crashes, body)

    await asyncio.to_thread(one)
    # Both kinds were tried: malformed requests (each a 4xx) and well-formed ones answered.
    assert statuses[400], statuses
    assert statuses[201], statuses
    # Every altered or hand-made card pressed by someone PerfBot knows was refused, and is
    # in the audit log.
    assert forged  # (each was checked for its audit entry as it went)

    # What was stored meanwhile holds: a period that reads back, text that can be shown.
    async with teams.client.app[SESSIONS]() as session:
        stored = [r for r in await session.scalars(select(Return)) if r.id not in before]
        for ret in stored:
            assert Period.parse(ret.period).label == ret.period
            for words in (ret.commentary or "", ret.remedial_action or ""):
                assert len(words) <= MAX_TEXT
                assert unicodedata.normalize("NFC", words) == words
                assert not any(0xD800 <= ord(c) <= 0xDFFF for c in words)
                assert not any(unicodedata.category(c) == "Cc" and c not in "\t\n" for c in words)
            if ret.commentary:
                assert visible(ret.commentary)
        rows = await performance(session, Scheme.STRONG_GOOD_REVIEW_ACTION)
    assert rows  # the council's export still works
    await teams.dispatch()  # and whatever was queued goes out without a fault
    assert not crashes
