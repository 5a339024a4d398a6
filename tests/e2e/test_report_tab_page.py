"""The board tab's page (bot/tab.py) in Debian's Chromium, from the real app on a real port
with an app id: Microsoft's Teams library and the tab's own script load and run under the
page's Content Security Policy, and outside Teams (no Teams frame to talk to) the page says
in one sentence what to do instead. Nothing leaves PerfBot's host: the one request the
library tries elsewhere (its list of Teams' hosts, which it also carries within itself) is
blocked by the policy. Teams' single sign-on itself needs Microsoft's cloud; the sign-in
exchange is tested in tests/bot/test_report_tab.py."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import NOW

CHROMIUM = "/usr/bin/chromium"
SETTINGS = {
    "MicrosoftAppId": "00000000-0000-0000-0000-0000000000aa",
    "MicrosoftAppPassword": "not-a-real-secret",
    "MicrosoftAppTenantId": "11111111-0000-0000-0000-000000000000",
    "PERFBOT_PUBLIC_URL": "https://perfbot.kingsmere.gov.uk",
}
OUTSIDE = (
    "This page opens as PerfBot's Board tab in Teams; outside Teams, type board in your chat "
    "with PerfBot for a link to the board."
)


@pytest.mark.parametrize("council_engine", ["sqlite"], indirect=True)
async def test_outside_teams_the_tab_says_what_to_do_and_loads_nothing_from_elsewhere(
    aiohttp_server: Any, council_engine: Any, tmp_path: Path
) -> None:
    if not await asyncio.to_thread(Path(CHROMIUM).exists):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it")
    app = create_app(Settings.from_env(SETTINGS), engine=council_engine, clock=lambda: NOW)
    server = await aiohttp_server(app)
    browser = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        "--dump-dom",
        f"http://127.0.0.1:{server.port}/reports/tab",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(browser.communicate(), 60)
    page, log = out.decode(), err.decode()
    assert browser.returncode == 0, log[-3000:]

    status = re.search(r'<p id="status" role="status">([^<]*)</p>', page)
    assert status is not None, page
    assert status.group(1).replace("&#39;", "'") == OUTSIDE  # the script ran, and said so
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    refused = [line for line in console if "Content Security Policy" in line]
    # Both scripts were allowed (a refused script would be named here) ...
    assert not [line for line in refused if "script-src" in line], refused
    # ... and the only thing stopped is the library's try at Microsoft's CDN.
    assert refused, console  # it does try, and the policy is what stops it
    for line in refused:
        assert "https://res.cdn.office.net/teams-js/validDomains/json/validDomains.json" in line
