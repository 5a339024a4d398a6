"""Microsoft's Agents Playground (a local Teams) beside the bot, for `make run` and the
end-to-end test. It is installed from npm into tests/e2e/ (`npm ci --prefix tests/e2e`)."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from importlib import resources
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
CLI = CHECKOUT / "tests" / "e2e" / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"


class PlaygroundError(RuntimeError):
    """The Playground could not be started; the message says what to do."""


# Whom you are in the Playground: the sample council's people it has a configuration for.
AS = {
    "amina": "playground.yml",  # Amina Hussain, Revenues Manager: a measure owner
    "mark": "playground-mark.yml",  # Mark Taylor, Head of Revenues: her escalation owner
}


def config_path(who: str = "amina") -> Path:
    """The Playground's users for the sample council, with ``who`` (a key of AS) as you."""
    return Path(str(resources.files("sample") / AS[who]))


def start(
    bot_url: str, port: int = 56150, config: Path | None = None
) -> tuple[subprocess.Popen[str], int]:
    """Start the Playground pointed at ``bot_url``; returns the process and the port it took
    (it silently picks another if ``port`` is busy, so the port is read from what it prints)."""
    if not CLI.exists():
        raise PlaygroundError(
            "the Agents Playground is not installed: run `npm ci --prefix tests/e2e` in the "
            "PerfBot checkout (it needs Node.js 20 and npm)"
        )
    logs = Path(tempfile.mkdtemp(prefix="perfbot-playground-"))
    env = {
        **os.environ,
        "TEAMSAPPTESTER_BROWSER": "none",  # it would try to open a browser and crash
        "M365_AGENTS_PLAYGROUND_LOGFILE": str(logs / "playground.log"),
        "M365_AGENTS_PLAYGROUND_CONFIG_PATH": str(config or config_path()),
    }
    try:
        process = subprocess.Popen(
            ["node", str(CLI), "-e", bot_url, "-c", "msteams", "--dt", "-p", str(port)],
            cwd=logs,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    except FileNotFoundError:
        raise PlaygroundError(
            "Node.js is not installed, so the Agents Playground cannot run"
        ) from None
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = re.search(r"Listening on (\d+)", line)
        if match:
            return process, int(match.group(1))
    process.kill()
    raise PlaygroundError(f"the Agents Playground did not start; see {logs / 'playground.log'}")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
