"""Every kind of thing has one table, and every key of it is registered: each card verb has
a parser, a handler and a template that uses it; each kind of message a builder; each
command a help line that it answers to; each job its place in `perfbot jobs`."""

from __future__ import annotations

import inspect
import re
import typing
from datetime import date
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from bot.delivery.messages import MESSAGES
from bot.loopback import elements
from bot.teams import card_actions, commands
from bot.teams.card_actions import CARD_ACTIONS
from cards import render as cards
from cards.actions import PARSERS, Verb, parse_action
from domain.notifications import Kind
from scheduler.jobs import JOBS

TEMPLATES = Path(cards.__file__).parent / "templates"


def test_every_verb_has_a_parser_and_a_handler():
    assert set(Verb) == PARSERS.keys() == CARD_ACTIONS.keys()


@pytest.mark.parametrize("verb", list(Verb))
def test_each_handler_takes_the_action_its_verbs_parser_makes(verb):
    parsed = parse_action({"verb": verb.value, "code": "RB-01", "period": "2026/27 M7"})
    assert parsed is not None
    assert parsed.verb is verb
    hints = typing.get_type_hints(CARD_ACTIONS[verb], vars(card_actions))
    [_, action] = list(inspect.signature(CARD_ACTIONS[verb]).parameters)
    assert hints[action] is type(parsed)


def test_templates_spell_no_verb_themselves_and_every_verb_is_on_some_card():
    text = "".join(p.read_text() for p in TEMPLATES.glob("*.j2"))
    assert not re.search(r'"verb":\s*"', text), "a template spells a verb: use verbs.NAME"
    used = set(re.findall(r"verbs\.([A-Z_]+)", text))
    assert used == {verb.name for verb in Verb}


def test_every_kind_of_message_has_a_builder():
    assert set(Kind) == MESSAGES.keys()


@pytest.mark.parametrize("command", commands.COMMANDS, ids=lambda c: c.name)
def test_each_commands_help_line_is_on_the_help_card_and_is_understood(command):
    # The examples carry the person's own code and days from today (a date to come).
    today = date(2026, 11, 23)
    card = cards.help_card(commands.help_lines("RB-01", today))
    usage = commands.example(command.usage, "RB-01", today)
    assert [usage, commands.example(command.help, "RB-01", today)] in [
        [fact["title"], fact["value"]] for fact in _facts(card)
    ]
    assert "{" not in usage
    assert "HS-04" not in usage
    found = commands.match(usage.upper())
    assert found is not None
    assert found[0] is command


def test_commands_answer_to_their_usage_only():
    assert commands.match("what's my deadline?") is None
    assert commands.match("<at>PerfBot</at>  My   Measures.")[0].name == "my measures"
    assert commands.match("snooze RB-01 until 18/07/2025")[1] == ("RB-01", "18/07/2025")


def test_the_cli_runs_and_lists_exactly_the_jobs_of_the_table(capsys):
    assert main(["jobs", "list", "--now", "2026-11-23T10:00"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [*JOBS, "dispatch"]
    for job, line in zip(JOBS.values(), lines, strict=False):
        assert line.endswith(job.description)  # the table's own words
    parser = build_parser()
    for name in JOBS:
        assert parser.parse_args(["jobs", "run", name]).name == name
    with pytest.raises(SystemExit):
        parser.parse_args(["jobs", "run", "weekly-nonsense"])
    assert "weekly-nonsense" in capsys.readouterr().err


def _facts(card):
    return [
        fact for node in elements(card) if node.get("type") == "FactSet" for fact in node["facts"]
    ]
