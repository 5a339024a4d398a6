"""`perfbot package`, run as a council's IT team runs it: the zip it writes is what Teams takes
(checked against Microsoft's manifest schema v1.29 and unpacked as Teams unpacks it), and a
missing or wrong setting is refused in a sentence of its own, writing nothing.

MicrosoftTeams.schema.v1.29.json beside this file is Microsoft's published schema (from its
Teams app schema repository, as npm @microsoft/app-manifest ships it), copied unchanged."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

import jsonschema
import pytest
from PIL import Image

from bot.teams.commands import COMMANDS, match
from bot.teams_app import LEFT_OUT, MENU
from tests.integration.test_cli import run

SCHEMA = json.loads((Path(__file__).parent / "MicrosoftTeams.schema.v1.29.json").read_text())
# The schema names draft-04 but uses draft-06's `const` (manifestVersion "1.29"), which a
# draft-04 validator would ignore; draft 7 reads every keyword it uses. (Its one \p{L}
# pattern, for extension function names, is one Python cannot compile; the package has none.)
VALIDATOR = jsonschema.Draft7Validator(
    SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
)

APP_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
SETTINGS = {
    "MicrosoftAppId": APP_ID,
    "PERFBOT_PUBLIC_URL": "https://perfbot.kingsmere.gov.uk",
    "PERFBOT_COUNCIL_NAME": "Kingsmere Borough Council",
    "PERFBOT_SUPPORT_URL": "https://www.kingsmere.gov.uk/it-help",
    "PERFBOT_PRIVACY_URL": "https://www.kingsmere.gov.uk/privacy/perfbot",
    "PERFBOT_TERMS_URL": "https://www.kingsmere.gov.uk/terms/perfbot",
}


def package(folder: Path, settings: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run(folder, "package", *args, env=settings)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("package")
    result = package(folder, SETTINGS)
    assert result.returncode == 0, result.stderr
    assert "Wrote perfbot.zip" in result.stdout
    return folder / "perfbot.zip"


def unpacked(zip_path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(zip_path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def manifest_of(zip_path: Path) -> dict:
    return json.loads(unpacked(zip_path)["manifest.json"])


def test_the_manifest_is_valid_against_microsofts_schema_v1_29(built):
    manifest = manifest_of(built)
    assert manifest["manifestVersion"] == "1.29"
    assert [error.message for error in VALIDATOR.iter_errors(manifest)] == []
    # The validator does catch what Teams would refuse: a bot id that is not a GUID.
    broken = json.loads(json.dumps(manifest))
    broken["bots"][0]["botId"] = "perfbot"
    assert list(VALIDATOR.iter_errors(broken))


def test_teams_finds_the_manifest_and_both_icons_at_the_root_of_the_zip(built):
    files = unpacked(built)
    assert sorted(files) == ["color.png", "manifest.json", "outline.png"]
    icons = manifest_of(built)["icons"]
    assert set(icons.values()) <= set(files)  # named as the manifest names them
    color = Image.open(io.BytesIO(files[icons["color"]]))
    outline = Image.open(io.BytesIO(files[icons["outline"]]))
    assert (color.format, color.size) == ("PNG", (192, 192))
    assert (outline.format, outline.size) == ("PNG", (32, 32))


def rgba(image: Image.Image) -> list[tuple[int, ...]]:
    data = image.convert("RGBA").tobytes()
    return [tuple(data[i : i + 4]) for i in range(0, len(data), 4)]


def test_the_outline_icon_is_white_on_transparent_and_the_colour_icon_is_opaque(built):
    files = unpacked(built)
    pixels = rgba(Image.open(io.BytesIO(files["outline.png"])))
    assert all(alpha == 0 or (r, g, b) == (255, 255, 255) for r, g, b, alpha in pixels)
    drawn = sum(alpha > 0 for *_, alpha in pixels)
    assert 100 < drawn < 32 * 32 / 2  # a mark, neither empty nor a white square
    color = rgba(Image.open(io.BytesIO(files["color.png"])))
    assert {alpha for *_, alpha in color} == {255}
    assert len(set(color)) == 2  # the accent colour and the white bars
    # The symbol is inside the middle 96x96 pixels, which Teams never crops.
    white = [i for i, pixel in enumerate(color) if pixel == (255, 255, 255, 255)]
    assert white
    assert all(48 <= i % 192 < 144 and 48 <= i // 192 < 144 for i in white)


def test_the_bot_is_the_azure_bots_app_for_personal_chats_and_teams(built):
    manifest = manifest_of(built)
    [bot] = manifest["bots"]
    assert manifest["id"] == bot["botId"] == APP_ID
    assert bot["scopes"] == ["personal", "team"]  # PerfBot does not serve group chats
    assert manifest["validDomains"] == ["perfbot.kingsmere.gov.uk"]
    assert manifest["developer"] == {
        "name": "Kingsmere Borough Council",
        "websiteUrl": "https://www.kingsmere.gov.uk/it-help",
        "privacyUrl": "https://www.kingsmere.gov.uk/privacy/perfbot",
        "termsOfUseUrl": "https://www.kingsmere.gov.uk/terms/perfbot",
    }
    assert manifest["version"] == "0.1.0"  # PerfBot's own, unless --version says otherwise


def test_the_board_is_a_personal_tab_that_signs_in_with_teams_single_sign_on(built):
    manifest = manifest_of(built)
    assert manifest["staticTabs"] == [
        {
            "entityId": "board",
            "name": "Board",
            "contentUrl": "https://perfbot.kingsmere.gov.uk/reports/tab",
            "websiteUrl": "https://perfbot.kingsmere.gov.uk/reports/tab",
            "scopes": ["personal"],
        }
    ]
    # Teams asks Entra for a token for this resource, which the Entra app must expose,
    # on the tab's own host (which validDomains lists).
    assert manifest["webApplicationInfo"] == {
        "id": APP_ID,
        "resource": f"api://perfbot.kingsmere.gov.uk/{APP_ID}",
    }
    # The schema does check the tab: a tab in the team scope is not one Teams takes.
    broken = json.loads(json.dumps(manifest))
    broken["staticTabs"][0]["scopes"] = ["channel"]
    assert list(VALIDATOR.iter_errors(broken))


def test_every_command_in_teams_menu_is_one_perfbot_understands_when_typed(built):
    lists = {
        tuple(entry["scopes"]): entry["commands"]
        for entry in manifest_of(built)["bots"][0]["commandLists"]
    }
    assert set(lists) == {("personal",), ("team",)}
    for scope, commands in lists.items():
        assert len(commands) <= 10, scope  # Teams shows at most ten a scope
        for command in commands:
            assert len(command["title"]) <= 32
            assert len(command["description"]) <= 128
            # Picked from the menu, the title is typed (with its example's arguments, if any).
            typed = [command["title"]] + [
                c.usage for c in COMMANDS if c.name == command["title"] and c.usage != c.name
            ]
            found = match(typed[-1])
            assert found is not None, typed
            assert found[0].name == command["title"]
    assert [c["title"] for c in lists[("personal",)]][:3] == ["my measures", "submit", "actions"]
    assert [c["title"] for c in lists[("team",)]] == ["set leadership channel", "help"]


def test_every_command_in_the_table_is_in_a_menu_or_left_out_with_a_reason():
    in_menu = {name for names in MENU.values() for name in names}
    for command in COMMANDS:
        assert command.name in in_menu or command.name in LEFT_OUT, command.name
    assert in_menu <= {command.name for command in COMMANDS}
    assert all(reason for reason in LEFT_OUT.values())


def test_the_same_settings_give_the_same_zip(built, tmp_path):
    assert package(tmp_path, SETTINGS, "-o", "again.zip").returncode == 0
    assert (tmp_path / "again.zip").read_bytes() == built.read_bytes()


def test_a_version_given_goes_into_the_manifest(tmp_path):
    result = package(tmp_path, SETTINGS, "--version", "1.4.2", "-o", "perfbot-1.4.2.zip")
    assert result.returncode == 0, result.stderr
    assert manifest_of(tmp_path / "perfbot-1.4.2.zip")["version"] == "1.4.2"


def _without(name: str) -> dict[str, str]:
    return {k: v for k, v in SETTINGS.items() if k != name}


@pytest.mark.parametrize(
    ("settings", "args", "sentence"),
    [
        (
            _without("MicrosoftAppId"),
            (),
            "perfbot package needs MicrosoftAppId (the Azure Bot's app id",
        ),
        (
            {**SETTINGS, "MicrosoftAppId": "perfbot-app"},
            (),
            "MicrosoftAppId 'perfbot-app' is not a GUID",
        ),
        (
            _without("PERFBOT_PUBLIC_URL"),
            (),
            "perfbot package needs PERFBOT_PUBLIC_URL (the https address Teams and people "
            "reach PerfBot at",
        ),
        (
            {**SETTINGS, "PERFBOT_PUBLIC_URL": "http://perfbot.kingsmere.gov.uk"},
            (),
            "PERFBOT_PUBLIC_URL 'http://perfbot.kingsmere.gov.uk' is not an https address",
        ),
        (
            {**SETTINGS, "PERFBOT_PUBLIC_URL": "https://localhost:3978"},
            (),
            "is an address on this machine, which Teams cannot reach",
        ),
        (
            _without("PERFBOT_COUNCIL_NAME"),
            (),
            "perfbot package needs PERFBOT_COUNCIL_NAME (the council's name",
        ),
        (
            {**SETTINGS, "PERFBOT_COUNCIL_NAME": "The Royal Borough of Kingsmere upon Thames"},
            (),
            "is 42 characters; Teams shows at most 32",
        ),
        (_without("PERFBOT_SUPPORT_URL"), (), "perfbot package needs PERFBOT_SUPPORT_URL"),
        (_without("PERFBOT_PRIVACY_URL"), (), "perfbot package needs PERFBOT_PRIVACY_URL"),
        (
            {**SETTINGS, "PERFBOT_TERMS_URL": "www.kingsmere.gov.uk/terms"},
            (),
            "PERFBOT_TERMS_URL 'www.kingsmere.gov.uk/terms' is not an https address",
        ),
        (SETTINGS, ("--version", "1.4"), "--version '1.4' is not like 1.4.0"),
    ],
)
def test_a_missing_or_wrong_setting_is_refused_in_one_sentence_and_nothing_is_written(
    tmp_path, settings, args, sentence
):
    result = package(tmp_path, settings, *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    problems = result.stderr.splitlines()
    assert problems[-1] == "perfbot: no package was written."
    [problem] = problems[:-1]  # that setting's sentence, and only it
    assert sentence in problem
    assert problem.startswith("perfbot: ")
    assert problem.endswith(".")
    assert not (tmp_path / "perfbot.zip").exists()


def test_with_nothing_set_each_setting_it_needs_has_its_own_sentence(tmp_path):
    result = package(tmp_path, {})
    assert result.returncode == 2
    named = [line.split()[4] for line in result.stderr.splitlines()[:-1]]
    assert named == [
        "MicrosoftAppId",
        "PERFBOT_PUBLIC_URL",
        "PERFBOT_COUNCIL_NAME",
        "PERFBOT_SUPPORT_URL",
        "PERFBOT_PRIVACY_URL",
        "PERFBOT_TERMS_URL",
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_zip_in_a_folder_that_does_not_exist_is_refused(tmp_path):
    result = package(tmp_path, SETTINGS, "-o", "nowhere/perfbot.zip")
    assert result.returncode == 1
    assert "the folder nowhere does not exist" in result.stderr
    assert "Traceback" not in result.stderr
