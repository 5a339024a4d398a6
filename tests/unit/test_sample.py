"""The sample council is what sample/generate.py makes, and is a realistic council."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from domain.periods import Period
from sample import generate

COUNCIL = Path(generate.__file__).parent / "council"


def test_the_committed_sample_is_exactly_what_the_generator_makes():
    for name, table in generate.build().items():
        committed = (COUNCIL / f"{name}.csv").read_text(encoding="utf-8")
        assert committed == generate.render(table), f"run `make sample` to refresh {name}.csv"


def _rows(name: str) -> list[dict[str, str]]:
    with (COUNCIL / f"{name}.csv").open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_six_services_about_forty_measures_and_three_years_of_history():
    measures = _rows("measures")
    services = {m["service"] for m in measures}
    assert len(services) == 6
    assert 35 <= len(measures) <= 45
    assert {m["kind"] for m in measures} == {"measure", "key action"}
    periods = {a["period"][:7] for a in _rows("actuals")}
    assert {"2023/24", "2024/25", "2025/26"} <= periods


def test_sample_load_signs_off_every_period_ended_more_than_90_days_before_its_day():
    for day in (date(2026, 11, 23), date(2027, 3, 31), date(2027, 4, 1), date(2027, 7, 1)):
        signed = [Period.parse(label) for label in generate.signed_off(day)]
        assert all((day - p.end).days > 90 for p in signed)
        last = {p.frequency: p for p in signed}  # oldest first: the last of each is kept
        assert {f.value for f in last} == {"monthly", "quarterly", "half-yearly", "annual"}
        assert all((day - p.next().end).days <= 90 for p in last.values())
        assert min(signed).year == day.year - 3 - (day.month < 4)  # from its history's start
