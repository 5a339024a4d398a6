"""`pip install .` into a clean virtual environment gives a working perfbot command, with its
migrations and sample council shipped inside the package, as a council's server installs it."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_wheel_installed_in_a_fresh_environment_runs_from_any_folder(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("perfbot-*.whl"))
    venv.create(tmp_path / "env", with_pip=True)
    python = tmp_path / "env" / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PERFBOT_")}
    perfbot = str(tmp_path / "env" / "bin" / "perfbot")

    def run(*args: str) -> str:
        result = subprocess.run(
            [perfbot, *args], cwd=work, env=environment, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "schema upgraded from empty" in run("db", "upgrade")
    assert "measures: 41 new" in run("sample", "load", "--if-empty")
    exported = run("export", "--period", "2025/26 Q3")
    assert "OD-03,Mandatory training completed" in exported
    located = subprocess.run(
        [str(python), "-c", "import domain; print(domain.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(tmp_path / "env") in located.stdout  # the installed copy, not this checkout
    # The board tab's scripts (bot/static/) are in the wheel: the app serves them from there.
    scripts = subprocess.run(
        [
            str(python),
            "-c",
            "from bot.tab import TEAMS_JS, _script; print(len(_script(TEAMS_JS)), len(_script('tab.js')))",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    )
    library, tab = map(int, scripts.stdout.split())
    assert library > 100_000  # Microsoft's Teams library, minified
    assert tab > 1_000


def _make_run(*args: str) -> str:
    """The command `make run` would start the bot with (make -n prints, runs nothing)."""
    env = {k: v for k, v in os.environ.items() if k != "AS"}
    shown = subprocess.run(
        ["make", "-n", "run", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    [serve] = [line for line in shown.splitlines() if "perfbot serve" in line]
    return serve


def test_make_run_starts_the_playground_as_amina_and_as_mark_when_asked():
    # make has a variable AS of its own (the assembler): it must not reach `--as`.
    assert _make_run().split()[-1] == "--playground"
    assert _make_run("AS=mark").split()[-3:] == ["--playground", "--as", "mark"]
    # Another program on the bot's port: make run PORT=… moves it.
    assert _make_run("PORT=3979", "AS=mark").split()[-5:] == [
        "--playground",
        "--as",
        "mark",
        "--port",
        "3979",
    ]
