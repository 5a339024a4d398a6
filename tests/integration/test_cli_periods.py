"""Signing periods off from the command line, as the performance team does at a terminal:
`perfbot period status|lock|unlock`, and `perfbot import --reason` into a signed-off period.
The sample council is loaded as of Monday 23 November 2026 (its history up to 2026/27 Q1
signed off); the commands run on the real clock, and every period they lock ended before."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from tests.integration.test_cli import fails_clearly, run

Q2 = "2026/27 Q2"  # July to September: in, not signed off, RB-06's return still open


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample council loaded once as of the fixture's day, as `make run` does."""
    folder = tmp_path_factory.mktemp("prepared")
    assert run(folder, "db", "upgrade").returncode == 0
    loaded = run(folder, "sample", "load", "--as-of", "2026-11-23")
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.splitlines()[-1] == (
        "Signed off 62 periods that ended more than 90 days before Monday 23 November 2026, "
        "as before PerfBot took over (2023/24 M1 to 2026/27 M4; 2023/24 Q1 to 2026/27 Q1; "
        "2023/24 H1 to 2025/26 H2; 2023/24 to 2025/26); see `perfbot period status PERIOD`."
    )
    return folder / "perfbot.db"


@pytest.fixture
def council(prepared: Path, tmp_path: Path) -> Path:
    shutil.copy(prepared, tmp_path / "perfbot.db")
    return tmp_path


def test_sample_load_signs_off_its_history(council):
    status = run(council, "period", "status", "2026/27 Q1")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0] == (
        "2026/27 Q1 (quarterly, 1 April 2026 to 30 June 2026): 24 measures reported quarterly"
    )
    assert lines[1] == (
        "  24 approved, 0 awaiting approval, 0 returned to their owner, 0 missing, 0 restated"
    )
    assert lines[2].startswith("  Signed off (locked) by sample on ")
    assert 'reason: "Signed off before PerfBot took over (sample data)"' in lines[2]
    # The months since are open: September's ended 54 days before the sample's day.
    september = run(council, "period", "status", "2026/27", "M6")
    assert "Not signed off." in september.stdout


def test_status_counts_first_then_lists_what_needs_doing(council):
    result = run(council, "period", "status", "2026/27", "Q2")  # two words
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("2026/27 Q2 (quarterly, 1 July 2026 to 30 September 2026)")
    assert lines[1] == (
        "  23 approved, 0 awaiting approval, 0 returned to their owner, 1 missing, 0 restated"
    )
    assert lines[2] == (
        "  Not signed off. Approve the returns below, or sign it off as it stands with "
        'perfbot period lock "2026/27 Q2" --force.'
    )
    assert "Approved (23):" in lines  # imported: the performance team's own figures
    missing = lines[lines.index("Missing (no figure) (1):") + 1]
    assert missing.split() == [
        "RB-06",
        *["Council", "Tax", "Support", "claims", "decided", "with…"],
        "—",
        *["Revenues", "and", "Benefits", "·", "Amina", "Hussain"],
    ]
    assert run(council, "period", "status", Q2).stdout == result.stdout  # one argument


def test_lock_is_refused_with_the_unapproved_returns_then_forced(council):
    refused = run(council, "period", "lock", Q2)
    fails_clearly(
        refused,
        "2026/27 Q2 has 1 return not yet approved (missing: RB-06)",
        "approve them first, or lock it with --force",
        "Nothing was changed.",
    )
    assert "Not signed off." in run(council, "period", "status", Q2).stdout

    locked = run(
        council,
        *("period", "lock", Q2, "--force", "--reason", "For Cabinet on 10 December"),
        *("--by", "Rachel.Singh@kingsmere.gov.uk"),
    )
    assert locked.returncode == 0, locked.stderr
    first, counts, forced, after = locked.stdout.splitlines()
    assert first.startswith("Signed off 2026/27 Q2: locked by rachel.singh@kingsmere.gov.uk on ")
    assert first.endswith(', reason: "For Cabinet on 10 December".')
    assert counts.strip().startswith("23 approved, 0 awaiting approval")
    assert forced.strip() == "Signed off with --force, not approved: missing: RB-06."
    assert "perfbot period unlock" in after
    status = run(council, "period", "status", Q2).stdout.splitlines()
    assert status[2].startswith("  Signed off (locked) by rachel.singh@kingsmere.gov.uk on ")

    again = run(council, "period", "lock", Q2, "--force")
    fails_clearly(again, "2026/27 Q2 is already signed off: locked by rachel.singh@")


def test_the_actor_defaults_to_the_login_name(council):
    locked = run(council, "period", "lock", "2026/27 M6", "--force", env={"USER": "pat"})
    assert locked.returncode == 0, locked.stderr
    assert "locked by cli:pat on " in locked.stdout


def test_unlock_needs_a_reason(council):
    assert run(council, "period", "lock", Q2, "--force").returncode == 0
    fails_clearly(
        run(council, "period", "unlock", Q2),
        'unlocking needs a reason for the audit log: perfbot period unlock "2026/27 Q2" '
        '--reason "why it is reopened"',
    )
    fails_clearly(run(council, "period", "unlock", Q2, "--reason", " "), "needs a reason")
    reopened = run(council, "period", "unlock", Q2, "--reason", "RB-06 came in late")
    assert reopened.returncode == 0, reopened.stderr
    assert reopened.stdout.startswith("Reopened 2026/27 Q2 (RB-06 came in late)")
    assert "Not signed off." in run(council, "period", "status", Q2).stdout
    fails_clearly(
        run(council, "period", "unlock", Q2, "--reason", "again"),
        "2026/27 Q2 is not signed off, so there is nothing to unlock.",
    )


def test_bad_periods_get_an_example(council):
    fails_clearly(
        run(council, "period", "status", "2026/27", "Q5"),
        "'2026/27 Q5' is not a period: Q runs from 1 to 4; for example "
        "`perfbot period status 2025/26 Q1`",
    )
    fails_clearly(
        run(council, "period", "lock", "Q2"),
        "'Q2' is not a period",
        "`perfbot period lock 2025/26 Q1`",
    )
    fails_clearly(  # far enough ahead to be a period that has not ended on any day run
        run(council, "period", "lock", "2099/00 Q4"),
        "2099/00 Q4 runs until Wednesday 31 March 2100, so it cannot be signed off yet",
    )
    for command in (
        ("period", "status", "0001/02", "Q1"),
        ("period", "lock", "1999/00", "Q4"),
        ("period", "unlock", "2100/01", "Q1", "--reason", "Hostile."),
        ("export", "--period", "9999/00 M1"),
        ("audit", "--period", "0000/01"),
    ):
        fails_clearly(run(council, *command), "write a period from 2000/01 to 2099/00")


def _correction(tmp_path: Path) -> Path:
    folder = tmp_path / "correction"
    folder.mkdir()
    (folder / "actuals.csv").write_text(
        "code,period,actual,commentary\n"
        "PL-05,2026/27 Q1,52,Four completions were recorded late by the developer.\n",
        encoding="utf-8",
    )
    return folder


def _pl05(council: Path) -> list[dict[str, str]]:
    exported = run(council, "export", "--period", "2026/27 Q1")
    return [r for r in csv.DictReader(io.StringIO(exported.stdout)) if r["code"] == "PL-05"]


def test_an_import_into_a_signed_off_period_needs_a_reason(council, tmp_path):
    folder = _correction(tmp_path)
    before = _pl05(council)
    refused = run(council, "import", str(folder))
    fails_clearly(
        refused,
        "1 problem found; nothing was imported:",
        "actuals row 2: 2026/27 Q1 was signed off by the performance team on ",
        "so PL-05 2026/27 Q1 can no longer be changed",
        'To record it as a correction, re-run the import with --reason "why it changed".',
    )
    fails_clearly(run(council, "import", str(folder), "--reason", ""), "--reason is empty")
    checked = run(council, "import", str(folder), "--dry-run", "--reason", "Late completions")
    assert checked.returncode == 0, checked.stderr
    assert "Checked" in checked.stdout
    assert (
        "corrected in signed-off periods (1, recorded with the reason): PL-05 2026/27 Q1 actual"
        in checked.stdout
    )
    assert _pl05(council) == before  # a dry run writes nothing

    imported = run(
        council, "import", str(folder), "--reason", "Late completions",
        "--by", "Rachel.Singh@kingsmere.gov.uk",
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    trail = run(council, "audit", "--measure", "PL-05", "--format", "csv").stdout
    restated = [row for row in trail.splitlines() if ",restate," in row]
    assert len(restated) == 1
    assert "rachel.singh@kingsmere.gov.uk" in restated[0]  # who corrected it, not "import"
    assert "actuals: 1 updated" in imported.stdout
    assert "PL-05 2026/27 Q1 actual" in imported.stdout
    assert [r["actual"] for r in _pl05(council)] == ["52"]
    status = run(council, "period", "status", "2026/27 Q1").stdout
    assert "0 missing, 1 restated" in status
    lines = status.splitlines()
    restated = lines.index("Restated (changed after sign-off) (1):")
    assert lines[restated + 1].split()[0] == "PL-05"
    assert lines[restated + 2].strip() == f"was {before[0]['actual']}: Late completions"

    # The same file again changes nothing, so it needs no reason.
    again = run(council, "import", str(folder))
    assert again.returncode == 0, again.stderr
    assert "nothing to change" in again.stdout
