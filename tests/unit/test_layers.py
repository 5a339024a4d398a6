"""Imports point inwards: the council's rules know nothing of Teams, the web or the database."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULE_MODULES = [
    "periods",
    "workdays",
    "numbers",
    "ratings",
    "dates",
    "weekly",
    "links",
    "profiles",
    "plausibility",
    "questions",
]
NEVER_IN_DOMAIN = (
    "botbuilder",
    "botframework",
    "aiohttp",
    "jinja2",
    "apscheduler",
    "bot",
    "cards",
    "reports",
    "markupsafe",
    "scheduler",
)


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted((ROOT / "domain").rglob("*.py")), ids=lambda p: p.name)
def test_domain_imports_no_teams_web_or_template_library(path):
    assert not imported_roots(path) & set(NEVER_IN_DOMAIN)


@pytest.mark.parametrize("name", RULE_MODULES)
def test_rule_modules_import_no_database_library(name):
    assert "sqlalchemy" not in imported_roots(ROOT / "domain" / f"{name}.py")


def test_botbuilder_stays_inside_bot():
    for folder in ("domain", "cards", "reports", "scheduler", "sample"):
        for path in (ROOT / folder).rglob("*.py"):
            assert not imported_roots(path) & {"botbuilder", "botframework"}, path


def test_reports_draw_what_domain_works_out_and_know_nothing_of_teams_or_the_database():
    for path in (ROOT / "reports").rglob("*.py"):
        assert not imported_roots(path) & {"bot", "cards", "scheduler", "sqlalchemy", "aiohttp"}, (
            path
        )
