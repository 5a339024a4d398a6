"""The Teams app package (`perfbot package`): manifest.json, drawn from the settings and the
commands table, and the two icons, drawn here, in one zip for the Teams admin centre."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, ImageDraw

from bot.teams.commands import COMMANDS, Command

MANIFEST_VERSION = "1.29"
MANIFEST_SCHEMA = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/v1.29/MicrosoftTeams.schema.json"
)
COLOR_ICON = "color.png"  # 192x192, full colour
OUTLINE_ICON = "outline.png"  # 32x32, white on transparent
ACCENT = "#1F4E79"  # the colour icon's background, and Teams' accent colour for the app

GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")

# Teams' own limits on a bot's command menu (stricter than the v1.29 schema's, which allows
# 12 commands and longer text): at most 10 commands a scope, a title of at most 32
# characters and a description of at most 128.
MOST_COMMANDS = 10
TITLE_LENGTH = 32
DESCRIPTION_LENGTH = 128
DEVELOPER_NAME_LENGTH = 32  # the schema's limit on developer.name

# The command menu Teams offers, by each command's name in COMMANDS (bot/teams/commands.py),
# in this order: what a measure owner uses every period first (their returns, their card,
# their action plan, snooze), then the escalation owner's (review, status), the board, the
# Leadership Team's (summary, deep dives), and help last. The title is the command's name
# (what Teams puts in the compose box) and the description its help line, so they cannot
# disagree. Teams shows ten a scope: a command added to COMMANDS goes here in place of one
# less used, or into LEFT_OUT.
MENU: dict[str, tuple[str, ...]] = {
    "personal": (
        "my measures",
        "submit",
        "actions",
        "snooze",
        "review",
        "status",
        "board",
        "summary",
        "deep dives",
        "help",
    ),
    "team": ("set leadership channel", "help"),
}

# Every command left out of a scope's menu, and why; it still works when typed, and the
# help card lists it. A command in COMMANDS must be in a menu or here (a test checks).
LEFT_OUT: dict[str, str] = {
    "period": "the performance team's; they sign periods off with perfbot period too",
    "delegate": "an owner's now-and-then command, typed with an email; it gave its place to board",
    "set leadership channel": "typed in a team channel only, so it is in the team menu",
    "milestones": "a key action owner's; my measures lists the milestones due soon, each a button",
    "delegate all": "an owner's now-and-then command, typed with an email, as delegate is",
    "undelegate": "an owner's now-and-then command, typed with a code and an email",
    "away": "typed with a date (and perhaps an email) before leave; help shows how",
    "back": "only after away; the away reply and my measures say to type it",
}


class PackageError(ValueError):
    """Settings the package cannot be built from: one sentence for each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


# The settings only the Teams app package reads (the server never needs them), read here
# and nowhere else; bot/settings.ENVIRONMENT lists them with the rest. `perfbot package` reads
# PERFBOT_PUBLIC_URL here too (Settings.public_url for the server) because it runs without
# the rest of the settings (no client secret is needed to build a package), and it asks more
# of it: https, and a host Teams can reach.
UNWIRED = {
    "PERFBOT_PUBLIC_URL": "the https address Teams and people reach PerfBot at, e.g. "
    "https://perfbot.council.gov.uk, whose host the package lists as the reports' host",
    "PERFBOT_COUNCIL_NAME": f"the council's name, at most {DEVELOPER_NAME_LENGTH} characters, "
    "shown in Teams as the app's publisher",
    "PERFBOT_SUPPORT_URL": "the https page where staff get help with PerfBot, e.g. the IT "
    "service desk's",
    "PERFBOT_PRIVACY_URL": "the https address of the council's privacy notice for PerfBot",
    "PERFBOT_TERMS_URL": "the https address of the terms of use for PerfBot",
}


# The settings above that are addresses, and what each should be.
ADDRESSES = {
    "PERFBOT_PUBLIC_URL": "the address Teams and people reach PerfBot at",
    "PERFBOT_SUPPORT_URL": "the page where staff get help with PerfBot",
    "PERFBOT_PRIVACY_URL": "the council's privacy notice for PerfBot",
    "PERFBOT_TERMS_URL": "the terms of use for PerfBot",
}


def unwired_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The settings above, stripped ("" when unset)."""
    return {name: env.get(name, "").strip() for name in UNWIRED}


@dataclass(frozen=True)
class AppDetails:
    """What the manifest says that the commands table does not."""

    app_id: str
    public_url: str
    council: str
    support_url: str
    privacy_url: str
    terms_url: str
    version: str

    @property
    def host(self) -> str:
        return urlsplit(self.public_url).hostname or ""

    @property
    def tab_url(self) -> str:
        """The board tab's page (bot/tab.py), where the bot's routes are published."""
        return f"{self.public_url.rstrip('/')}/reports/tab"

    @property
    def sso_resource(self) -> str:
        """The Application ID URI the Entra app exposes for Teams' single sign-on: Teams
        asks that its host be the tab's."""
        return f"api://{self.host}/{self.app_id}"


def perfbot_version() -> str:
    try:
        return version("perfbot")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0.0.0"


def https_problem(name: str, text: str, meaning: str) -> str | None:
    """Why ``text`` cannot be an https address for ``name`` (None if it can)."""
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname:
        return f"{name} '{text}' is not an https address: give {meaning}, starting https://"
    if parts.hostname in ("localhost", "127.0.0.1", "::1") or parts.hostname.endswith(".local"):
        return (
            f"{name} '{text}' is an address on this machine, which Teams cannot reach: give "
            f"{meaning}"
        )
    return None


def details_from(env: Mapping[str, str], app_version: str | None = None) -> AppDetails:
    """Read and check what the package needs; every problem found is one sentence."""
    problems: list[str] = []
    app_id = env.get("MicrosoftAppId", "").strip()
    if not app_id:
        problems.append(
            "perfbot package needs MicrosoftAppId (the Azure Bot's app id, the Application "
            "(client) ID of its Entra app, a GUID): set it as for perfbot serve"
        )
    elif not GUID.match(app_id):
        problems.append(
            f"MicrosoftAppId '{app_id}' is not a GUID like 0a1b2c3d-0000-4000-8000-00000000abcd: "
            "copy the Application (client) ID from the Entra app's overview page"
        )
    found = unwired_settings(env)
    for name, meaning in UNWIRED.items():
        if not found[name]:
            problems.append(f"perfbot package needs {name} ({meaning})")
    council = found["PERFBOT_COUNCIL_NAME"]
    if len(council) > DEVELOPER_NAME_LENGTH:
        problems.append(
            f"PERFBOT_COUNCIL_NAME '{council}' is {len(council)} characters; Teams shows at "
            f"most {DEVELOPER_NAME_LENGTH}: shorten it (e.g. without 'Borough Council')"
        )
    for name, meaning in ADDRESSES.items():
        problem = https_problem(name, found[name], meaning)
        if problem:
            problems.append(problem)
    chosen = app_version or perfbot_version()
    if not SEMVER.match(chosen):
        problems.append(
            f"--version '{chosen}' is not like 1.4.0 (three whole numbers): Teams needs each "
            "upload of the app to have a higher version than the last"
        )
    if problems:
        raise PackageError(problems)
    return AppDetails(
        app_id=app_id.lower(),
        public_url=found["PERFBOT_PUBLIC_URL"],
        council=council,
        support_url=found["PERFBOT_SUPPORT_URL"],
        privacy_url=found["PERFBOT_PRIVACY_URL"],
        terms_url=found["PERFBOT_TERMS_URL"],
        version=chosen,
    )


# A help line that reads wrongly out of the help card's context, reworded for Teams' menu.
MENU_WORDS = {"help": "every command PerfBot understands, and what each does"}


def _by_name() -> dict[str, Command]:
    return {command.name: command for command in COMMANDS}


def menu_entry(command: Command) -> dict[str, str]:
    """A command as Teams lists it: the name to type, and its help line (with an example
    when the command takes more than its name)."""
    description = MENU_WORDS.get(command.name, command.help)
    if command.usage != command.name and command.usage not in description:
        description = f"{description}: {command.usage}"
    description = description[0].upper() + description[1:]
    if len(command.name) > TITLE_LENGTH or len(description) > DESCRIPTION_LENGTH:
        raise ValueError(
            f"the command {command.name!r} is too long for Teams' menu (title at most "
            f"{TITLE_LENGTH}, description at most {DESCRIPTION_LENGTH} characters)"
        )
    return {"title": command.name, "description": description}


def command_lists() -> list[dict[str, Any]]:
    commands = _by_name()
    lists = []
    for scope, names in MENU.items():
        if len(names) > MOST_COMMANDS:
            raise ValueError(f"Teams shows at most {MOST_COMMANDS} commands in the {scope} menu")
        lists.append(
            {"scopes": [scope], "commands": [menu_entry(commands[name]) for name in names]}
        )
    return lists


def manifest(details: AppDetails) -> dict[str, Any]:
    """manifest.json (schema v1.29). PerfBot is a bot for personal chats and teams (a
    channel takes the weekly summary); it does not take part in group chats, which its
    handler does not serve. The board is also a personal tab: its page signs the person in
    with Teams single sign-on (webApplicationInfo: the Entra app and the resource it
    exposes) and opens their own board, as the link PerfBot gives in chat does."""
    return {
        "$schema": MANIFEST_SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": details.version,
        "id": details.app_id,
        "developer": {
            "name": details.council,
            "websiteUrl": details.support_url,
            "privacyUrl": details.privacy_url,
            "termsOfUseUrl": details.terms_url,
        },
        "name": {"short": "PerfBot", "full": f"PerfBot: {details.council} performance reporting"},
        "description": {
            "short": "Reminders, returns, ratings and escalations for performance measures",
            "full": (
                f"PerfBot runs {details.council}'s performance reporting cycle in Teams. It "
                "reminds measure owners before each deadline, takes their figure and "
                "commentary on a card and rates it against its target at once, chases late "
                "returns politely, escalates off-track measures to their escalation owner, "
                "handles sign-off, and posts the weekly summary to the Leadership Team's "
                "channel. Type help in the chat with PerfBot for what it can do."
            ),
        },
        "icons": {"color": COLOR_ICON, "outline": OUTLINE_ICON},
        "accentColor": ACCENT,
        "bots": [
            {
                "botId": details.app_id,
                "scopes": list(MENU),
                "isNotificationOnly": False,
                "supportsFiles": False,
                "commandLists": command_lists(),
            }
        ],
        "staticTabs": [
            {
                "entityId": "board",
                "name": "Board",
                "contentUrl": details.tab_url,
                "websiteUrl": details.tab_url,
                "scopes": ["personal"],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [details.host],
        "webApplicationInfo": {"id": details.app_id, "resource": details.sso_resource},
        "defaultInstallScope": "personal",
    }


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def color_icon() -> bytes:
    """192x192: three white bars rising left to right on a baseline (a bar chart) on the
    accent colour, inside the middle 96x96 pixels, the part of the colour icon Teams never
    crops (its icon guidance leaves 48 pixels around the symbol)."""
    image = Image.new("RGBA", (192, 192), ACCENT)
    draw = ImageDraw.Draw(image)
    for left, height in ((52, 40), (82, 62), (112, 84)):
        draw.rectangle((left, 135 - height, left + 25, 134), fill="white")
    draw.rectangle((48, 139, 143, 143), fill="white")  # the chart's baseline
    return _png(image)


def outline_icon() -> bytes:
    """32x32: the same bars, white on transparent (Teams colours the outline itself)."""
    image = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for left, height in ((5, 9), (13, 15), (21, 21)):
        draw.rectangle((left, 26 - height, left + 5, 25), fill=(255, 255, 255, 255))
    draw.rectangle((4, 27, 27, 28), fill=(255, 255, 255, 255))
    return _png(image)


def package(details: AppDetails) -> bytes:
    """The zip Teams takes: manifest.json and the two icons at its root. The same details
    give the same bytes (fixed timestamps), so a rebuilt package can be compared."""
    files = {
        "manifest.json": (
            json.dumps(manifest(details), indent=2, ensure_ascii=False) + "\n"
        ).encode(),
        COLOR_ICON: color_icon(),
        OUTLINE_ICON: outline_icon(),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()
