"""The perfbot command as a person at a terminal uses it: real processes, a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from openpyxl import load_workbook

PERFBOT = str(Path(sys.executable).parent / "perfbot")


def run(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PERFBOT_", "Microsoft"))
    }
    environment.update(env or {})
    return subprocess.run(
        [PERFBOT, *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def fails_clearly(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample council loaded once, as `make run` does (as of the fixture's day, so that
    the test does not depend on today's), into a perfbot.db to copy."""
    folder = tmp_path_factory.mktemp("prepared")
    assert run(folder, "db", "upgrade").returncode == 0
    loaded = run(folder, "sample", "load", "--if-empty", "--as-of", "2026-11-23")
    assert loaded.returncode == 0, loaded.stderr
    assert "as of Monday 23 November 2026" in loaded.stdout
    assert "measures: 41 new" in loaded.stdout
    return folder / "perfbot.db"


@pytest.fixture
def council(prepared: Path, tmp_path: Path) -> Path:
    """A working folder of the test's own whose perfbot.db holds the sample council."""
    shutil.copy(prepared, tmp_path / "perfbot.db")
    return tmp_path


def test_help_lists_every_command_with_one_line_each(tmp_path):
    result = run(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("serve", "db", "import", "export", "sample"):
        assert f"    {command} " in result.stdout


def test_a_newcomer_prepares_the_database_and_exports_a_quarter(council):
    again = run(council, "sample", "load", "--if-empty")
    assert "already has 41 measures" in again.stdout
    result = run(council, "export", "--period", "2025/26 q3")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    od03 = next(r for r in rows if r["code"] == "OD-03")
    assert (od03["period"], od03["rating"], od03["variance_pct"]) == (
        "2025/26 Q3",
        "Review",
        "-2.1",
    )

    assert run(council, "export", "-o", "perf.xlsx").returncode == 0
    sheet = load_workbook(council / "perf.xlsx").active
    assert sheet.max_row > 800


def test_db_upgrade_twice_reports_the_schema_is_current(council):
    result = run(council, "db", "upgrade")
    assert result.returncode == 0
    assert "schema already current" in result.stdout
    assert run(council, "db", "status").returncode == 0


def test_importing_the_same_folder_again_changes_nothing(tmp_path):
    fixture = str(Path(__file__).parents[2] / "sample" / "council")
    assert run(tmp_path, "db", "upgrade").returncode == 0
    first = run(tmp_path, "import", fixture)
    assert "measures: 41 new" in first.stdout
    result = run(tmp_path, "import", fixture)
    assert result.returncode == 0
    assert "nothing to change" in result.stdout


def test_a_bad_sample_day_is_one_sentence_and_loads_nothing(tmp_path):
    assert run(tmp_path, "db", "upgrade").returncode == 0
    result = run(tmp_path, "sample", "load", "--as-of", "31/02/2026")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "perfbot: --as-of: '31/02/2026' is not a date: write it as 2025-07-18 or 18/07/2025"
    )
    # Nothing was loaded, so loading "if empty" still loads it.
    loaded = run(tmp_path, "sample", "load", "--if-empty", "--as-of", "2026-11-23")
    assert "measures: 41 new" in loaded.stdout


def test_a_broken_folder_lists_its_problems_and_imports_nothing(council, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "measures.csv").write_text(
        "code,title,service,owner_email,polarity,frequency\n"
        "HS-01,Rent,Housing,amina.hussain@kingsmere.gov.uk,up,quarterly\n"
        "HS-02,Arrears,Housing,amina.hussain@kingsmere.gov.uk,lower,weekly\n",
        encoding="utf-8",
    )
    result = run(council, "import", str(broken))
    fails_clearly(
        result,
        "2 problems found; nothing was imported:",
        "measures row 2: polarity 'up' is not higher or lower",
        "measures row 3: frequency 'weekly' is not one of monthly",
    )
    listing = run(council, "export", "--period", "2025/26 Q1")
    assert "HS-01" not in listing.stdout


def test_the_deadlines_export_imports_back_unchanged(council, tmp_path):
    timetable = tmp_path / "timetable"
    timetable.mkdir()
    (timetable / "deadlines.csv").write_text(
        "frequency,code,period,due_date,review_date,review\n"
        "quarterly,,2026/27 Q2,2026-10-22,2026-10-27,Corporate Management Team\n"
        ",PL-01,2026/27 Q2,15/10/2026,,\n",
        encoding="utf-8",
    )
    imported = run(council, "import", str(timetable))
    assert imported.returncode == 0, imported.stderr
    assert "deadlines: 2 new" in imported.stdout

    out = tmp_path / "out"
    out.mkdir()
    exported = run(council, "export", "--deadlines", "-o", str(out / "deadlines.csv"))
    assert exported.returncode == 0, exported.stderr
    assert "Wrote 2 rows" in exported.stderr
    again = run(council, "import", str(out))
    assert again.returncode == 0, again.stderr
    assert "nothing to change" in again.stdout
    assert "deadlines: 2 unchanged" in again.stdout

    listing = run(council, "export", "--deadlines")
    assert list(csv.reader(io.StringIO(listing.stdout))) == [
        ["frequency", "code", "period", "due_date", "review_date", "review"],
        ["quarterly", "", "2026/27 Q2", "2026-10-22", "2026-10-27", "Corporate Management Team"],
        ["", "PL-01", "2026/27 Q2", "2026-10-15", "", ""],
    ]


def test_a_dry_run_checks_without_writing(council, tmp_path):
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "people.csv").write_text("email,name\nnew.person@kingsmere.gov.uk,New Person\n")
    result = run(council, "import", "--dry-run", str(folder))
    assert result.returncode == 0
    assert "nothing written" in result.stdout
    assert "people: 1 new" in result.stdout
    assert "people: 1 new" in run(council, "import", str(folder)).stdout


@pytest.mark.parametrize(
    ("args", "env", "phrases"),
    [
        (["export", "--period", "Q5 2025"], {}, ["'Q5 2025' is not a period"]),
        (["frobnicate"], {}, ["invalid choice: 'frobnicate'"]),
        (
            ["jobs", "run", "reminders", "--now", "tomorrow"],
            {},
            ["--now: 'tomorrow' is not a date and time"],
        ),
        (
            ["jobs", "list"],
            {"PERFBOT_SEND_HOURS": "9-5"},
            ["PERFBOT_SEND_HOURS: '9-5' is not a send window"],
        ),
        (["export", "--period", "2025/26 Q5"], {}, ["Q runs from 1 to 4"]),
        (["export", "--format", "xlsx"], {}, ["an xlsx export needs a file"]),
        (
            ["export", "--deadlines", "--format", "xlsx"],
            {},
            ["an xlsx export needs a file: add -o deadlines.xlsx"],
        ),
        (
            ["export", "--deadlines", "--period", "2025/26 Q1"],
            {},
            ["--period is for the performance export: leave it out"],
        ),
        (
            ["export", "-o", "no/such/folder/x.csv"],
            {},
            ["the folder no/such/folder does not exist"],
        ),
        (["jobs", "run", "dispatch", "--shard", "3/2"], {}, ["--shard '3/2' is not like 2/3"]),
        (
            ["jobs", "run", "reminders", "--shard", "1/2"],
            {},
            ["are for `perfbot jobs run dispatch`"],
        ),
        (["jobs", "run", "dispatch", "--parent", "1"], {}, ["--parent goes with --until-stopped"]),
        (["export"], {"PERFBOT_DISPATCHERS": "0"}, ["PERFBOT_DISPATCHERS '0' must be a whole"]),
        (["import", "missing.xlsx"], {}, ["missing.xlsx does not exist"]),
        (["import", "notes.txt"], {}, ["is not an .xlsx workbook or a folder of CSV files"]),
        (
            ["export"],
            {"PERFBOT_DATABASE_URL": "mysql://root@localhost/perf"},
            ["PERFBOT_DATABASE_URL: the database 'mysql' is not supported"],
        ),
        (
            ["export"],
            {"PERFBOT_DATABASE_URL": "not a url at all"},
            ["PERFBOT_DATABASE_URL: 'not a url at all' is not a database URL"],
        ),
        (
            ["export"],
            {"PERFBOT_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/test"},
            ["cannot use the database", "Check PERFBOT_DATABASE_URL"],
        ),
        (
            ["export"],
            {"PERFBOT_DEFAULT_SCHEME": "traffic-lights"},
            [
                "PERFBOT_DEFAULT_SCHEME: scheme 'traffic-lights' is not strong-good-review-action or rag"
            ],
        ),
    ],
)
def test_bad_input_gets_one_clear_sentence_and_exit_status_1(council, args, env, phrases):
    (council / "notes.txt").write_text("hello")
    fails_clearly(run(council, *args, env=env), *phrases)


def test_a_database_that_was_never_prepared_is_named_with_the_fix(tmp_path):
    fails_clearly(
        run(tmp_path, "export"), "has no PerfBot tables yet: run `perfbot db upgrade` first"
    )


def test_debug_shows_the_traceback_for_developers(tmp_path):
    result = run(tmp_path, "--debug", "export", "--period", "nonsense")
    assert result.returncode == 1
    assert "Traceback" in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_health_checks_on_a_real_port(council):
    port = free_port()
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PERFBOT_", "Microsoft"))
    }
    server = subprocess.Popen(
        [PERFBOT, "serve", "--port", str(port)],
        cwd=council,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        body = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz", timeout=2
                ) as response:
                    body = json.load(response)
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        assert body == {"status": "ok", "database": "reachable", "schema": body and body["schema"]}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/messages", data=b"hello", method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        refused.value.close()
        assert refused.value.code == 415

        clash = run(council, "serve", "--port", str(port))
        fails_clearly(clash, f"cannot listen on 127.0.0.1:{port}", "--port")
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=10)
    assert "MicrosoftAppId is not set" in stderr
    assert "Traceback" not in stderr


def test_a_dispatcher_whose_server_is_already_gone_stops_at_once(council):
    # `perfbot serve` names itself as the parent of its extra dispatchers: if it is killed
    # while one is still starting, the dispatcher still sees that it has gone.
    gone = subprocess.Popen(["true"])
    gone.wait()
    started = time.monotonic()
    result = run(
        council,
        "jobs",
        "run",
        "dispatch",
        "--until-stopped",
        "--shard",
        "2/2",
        "--parent",
        str(gone.pid),
        env={"PERFBOT_DISPATCHERS": "2"},
    )
    assert result.returncode == 0, result.stderr
    assert "has ended; stopping" in result.stderr
    assert time.monotonic() - started < 30


def test_card_keys_are_listed_rotated_and_the_older_retired_with_the_audit_log_told(council):
    listed = run(council, "card-keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert re.fullmatch(r"key 1: made \d\d \w{3} \d{4} \d\d:\d\d, seals new cards\n", listed.stdout)
    assert run(council, "card-keys", "retire").stdout.startswith("Only one key is in use")
    rotated = run(council, "card-keys", "rotate", "--by", "rachel.singh@kingsmere.gov.uk")
    assert rotated.stdout.startswith("Key 2 seals PerfBot's cards from now on")
    assert (
        "Cards sent before keep working until you run: perfbot card-keys retire" in rotated.stdout
    )
    lines = run(council, "card-keys", "list").stdout.splitlines()
    assert lines[0].endswith("still opens the cards it sealed")
    assert lines[1].endswith("seals new cards")
    retired = run(council, "card-keys", "retire")
    assert retired.stdout.startswith("Retired key 1: a card sealed with it is refused")
    assert " retired " in run(council, "card-keys", "list").stdout.splitlines()[0]
    trail = run(council, "audit", "--since", "2020-01-01", "--format", "csv").stdout
    assert "made a new card key" in trail
    assert "retired the older card keys" in trail
    # No key's secret is ever printed.
    assert "secret" not in listed.stdout + rotated.stdout + retired.stdout


def test_people_says_who_is_away_and_who_covers(council):
    import sqlite3

    with sqlite3.connect(council / "perfbot.db") as connection:
        ids = dict(connection.execute("SELECT email, id FROM people"))
        connection.execute(
            "INSERT INTO absences (person_id, until, cover_id, set_by, set_at) "
            "VALUES (?, '2026-12-11', ?, 'amina.hussain@kingsmere.gov.uk', '2026-11-23 10:00:00')",
            (ids["amina.hussain@kingsmere.gov.uk"], ids["lucy.price@kingsmere.gov.uk"]),
        )
    result = run(council, "people", "--now", "2026-11-23T10:00")
    assert result.returncode == 0, result.stderr
    [amina] = [line for line in result.stdout.splitlines() if line.startswith("Amina Hussain")]
    assert amina.endswith("away until Friday 11 December 2026, Lucy Price covering")
    assert "away until" not in result.stdout.replace(amina, "")
    back = run(council, "people", "--now", "2026-12-11T09:00")  # the day she is back
    assert "away until" not in back.stdout
