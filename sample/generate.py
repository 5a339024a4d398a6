"""Make the sample council: Kingsmere Borough Council, six services, 41 measures and key
actions, three years of history with some off-track periods, as of a given day.

``build(as_of, demo=True)`` is what `perfbot sample load` imports: the history runs up to
the day it is loaded, so that on any day of the year Amina Hussain (the Playground's user)
has a return overdue (RB-02), one due on the next working day whose reminder was owed on
the last working morning (RB-06), and the last month's council tax collection (RB-01).
``build()`` is the same council as of Monday 23 November 2026 without those touches: the
fixture the tests' hand-worked cases use, committed in ``sample/council/`` (``python -m
sample.generate`` rewrites it). Deterministic: the same day gives the same council."""

from __future__ import annotations

import csv
import random
import sys
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from domain import locks, views
from domain.periods import Frequency, Period, periods_between
from domain.workdays import WorkingCalendar

OUT = Path(__file__).parent / "council"
DOMAIN = "kingsmere.gov.uk"
# The fixture's day. The measures below are written for it: their targets run from 2023/24
# to 2026/27 and their troubles name its periods; another day moves them by whole years.
FIXTURE_DAY = date(2026, 11, 23)
SPEC_YEAR = 2026
SEED = 20260401

# email local part, name, service, roles, manager
PEOPLE = [
    ("helen.ashworth", "Helen Ashworth", "Chief Executive's Office", "leadership", ""),
    (
        "david.okafor",
        "David Okafor",
        "Chief Executive's Office",
        "leadership;escalation_owner",
        "helen.ashworth",
    ),
    (
        "sarah.lindqvist",
        "Sarah Lindqvist",
        "Chief Executive's Office",
        "leadership;escalation_owner",
        "helen.ashworth",
    ),
    (
        "performance.team",
        "Corporate Performance Team",
        "Chief Executive's Office",
        "admin",
        "david.okafor",
    ),
    ("rachel.singh", "Rachel Singh", "Chief Executive's Office", "admin;owner", "david.okafor"),
    # Revenues and Benefits
    (
        "mark.taylor",
        "Mark Taylor",
        "Revenues and Benefits",
        "escalation_owner;owner",
        "david.okafor",
    ),
    ("amina.hussain", "Amina Hussain", "Revenues and Benefits", "owner", "mark.taylor"),
    ("gareth.jones", "Gareth Jones", "Revenues and Benefits", "owner", "mark.taylor"),
    ("lucy.price", "Lucy Price", "Revenues and Benefits", "", "amina.hussain"),
    # Planning and Regeneration
    (
        "claire.whitfield",
        "Claire Whitfield",
        "Planning and Regeneration",
        "escalation_owner;owner",
        "sarah.lindqvist",
    ),
    ("tom.brennan", "Tom Brennan", "Planning and Regeneration", "owner", "claire.whitfield"),
    ("priya.patel", "Priya Patel", "Planning and Regeneration", "owner", "claire.whitfield"),
    ("joe.marsh", "Joe Marsh", "Planning and Regeneration", "", "tom.brennan"),
    # Environment and Waste
    (
        "steve.holloway",
        "Steve Holloway",
        "Environment and Waste",
        "escalation_owner;owner",
        "sarah.lindqvist",
    ),
    ("nicola.green", "Nicola Green", "Environment and Waste", "owner", "steve.holloway"),
    ("ravi.chauhan", "Ravi Chauhan", "Environment and Waste", "owner", "steve.holloway"),
    ("emma.doyle", "Emma Doyle", "Environment and Waste", "", "nicola.green"),
    # Housing and Communities
    (
        "janet.obrien",
        "Janet O'Brien",
        "Housing and Communities",
        "escalation_owner;owner",
        "sarah.lindqvist",
    ),
    ("kwame.mensah", "Kwame Mensah", "Housing and Communities", "owner", "janet.obrien"),
    ("sophie.turner", "Sophie Turner", "Housing and Communities", "owner", "janet.obrien"),
    ("dan.evans", "Dan Evans", "Housing and Communities", "", "kwame.mensah"),
    # Customer and Corporate Services
    (
        "alison.reeves",
        "Alison Reeves",
        "Customer and Corporate Services",
        "escalation_owner;owner",
        "david.okafor",
    ),
    ("ben.carter", "Ben Carter", "Customer and Corporate Services", "owner", "alison.reeves"),
    ("fatima.begum", "Fatima Begum", "Customer and Corporate Services", "owner", "alison.reeves"),
    ("chris.walsh", "Chris Walsh", "Customer and Corporate Services", "", "ben.carter"),
    # People and Organisational Development
    (
        "ian.fletcher",
        "Ian Fletcher",
        "People and Organisational Development",
        "escalation_owner;owner",
        "david.okafor",
    ),
    (
        "hannah.wright",
        "Hannah Wright",
        "People and Organisational Development",
        "owner",
        "ian.fletcher",
    ),
    ("olu.adeyemi", "Olu Adeyemi", "People and Organisational Development", "", "hannah.wright"),
]


@dataclass
class Spec:
    """One measure of the sample, and how its history behaves."""

    code: str
    title: str
    service: str
    priority: str
    owner: str
    escalation: str
    delegates: str = ""
    unit: str = "number"
    polarity: str = "higher"
    frequency: str = "quarterly"
    decimals: int = 0
    scheme: str = ""
    tolerance: str = ""
    data_only: bool = False
    kind: str = "measure"
    due_date: str = ""
    targets: tuple[float, float, float, float] = (0, 0, 0, 0)  # by year, 2023/24 to 2026/27
    profile: str = "flat"  # flat, cumulative (collection), seasonal (winter worse)
    noise: float = 0.03  # typical variation, as a share of target
    trouble: dict[str, float] = field(default_factory=dict)  # period label -> shift (- is worse)
    missing: tuple[str, ...] = ()


RB, PL, EW, HC, CS, OD = (
    "Revenues and Benefits",
    "Planning and Regeneration",
    "Environment and Waste",
    "Housing and Communities",
    "Customer and Corporate Services",
    "People and Organisational Development",
)
GOOD_SERVICES = "High performing, value for money services"
HOMES = "Homes and thriving communities"
GREEN = "A clean and green borough"
ECONOMY = "A prosperous economy"

MEASURES = [
    Spec(
        "RB-01",
        "Council tax collected in year",
        RB,
        GOOD_SERVICES,
        "amina.hussain",
        "mark.taylor",
        "lucy.price",
        "percent",
        "higher",
        "monthly",
        1,
        targets=(97.0, 97.2, 97.3, 97.5),
        profile="cumulative",
        noise=0.006,
        trouble={"2024/25 M9": -0.03, "2024/25 M10": -0.035, "2024/25 M11": -0.02},
    ),
    Spec(
        "RB-02",
        "Business rates (NNDR) collected in year",
        RB,
        GOOD_SERVICES,
        "amina.hussain",
        "mark.taylor",
        "",
        "percent",
        "higher",
        "monthly",
        1,
        targets=(98.0, 98.0, 98.2, 98.4),
        profile="cumulative",
        noise=0.006,
    ),
    Spec(
        "RB-03",
        "Average days to process new Housing Benefit claims",
        RB,
        GOOD_SERVICES,
        "gareth.jones",
        "mark.taylor",
        "lucy.price",
        "days",
        "lower",
        "monthly",
        1,
        targets=(20, 19, 18, 18),
        noise=0.06,
        profile="seasonal",
        trouble={
            "2025/26 M8": -0.15,
            "2025/26 M9": -0.22,
            "2025/26 M10": -0.18,
            "2026/27 M5": -0.12,
            "2026/27 M6": -0.14,
        },
    ),
    Spec(
        "RB-04",
        "Average days to process changes of circumstances",
        RB,
        GOOD_SERVICES,
        "gareth.jones",
        "mark.taylor",
        "",
        "days",
        "lower",
        "monthly",
        1,
        targets=(8, 8, 7.5, 7),
        noise=0.07,
    ),
    Spec(
        "RB-05",
        "Housing Benefit overpayments recovered",
        RB,
        GOOD_SERVICES,
        "gareth.jones",
        "mark.taylor",
        "",
        "currency",
        "higher",
        "quarterly",
        0,
        targets=(180000, 185000, 190000, 190000),
        noise=0.08,
    ),
    Spec(
        "RB-06",
        "Council Tax Support claims decided within 14 days",
        RB,
        GOOD_SERVICES,
        "amina.hussain",
        "mark.taylor",
        "",
        "percent",
        "higher",
        "quarterly",
        1,
        targets=(85, 87, 88, 90),
        noise=0.03,
    ),
    Spec(
        "PL-01",
        "Major planning applications decided within 13 weeks or agreed time",
        PL,
        ECONOMY,
        "tom.brennan",
        "claire.whitfield",
        "joe.marsh",
        "percent",
        "higher",
        "quarterly",
        0,
        targets=(70, 75, 80, 80),
        noise=0.07,
        trouble={"2024/25 Q3": -0.2, "2024/25 Q4": -0.15},
    ),
    Spec(
        "PL-02",
        "Minor planning applications decided within 8 weeks or agreed time",
        PL,
        ECONOMY,
        "tom.brennan",
        "claire.whitfield",
        "joe.marsh",
        "percent",
        "higher",
        "quarterly",
        0,
        targets=(75, 80, 80, 85),
        noise=0.05,
    ),
    Spec(
        "PL-03",
        "Other planning applications decided within 8 weeks or agreed time",
        PL,
        ECONOMY,
        "priya.patel",
        "claire.whitfield",
        "",
        "percent",
        "higher",
        "quarterly",
        0,
        targets=(85, 85, 88, 90),
        noise=0.04,
    ),
    Spec(
        "PL-04",
        "Net additional homes delivered",
        PL,
        HOMES,
        "priya.patel",
        "claire.whitfield",
        "",
        "number",
        "higher",
        "annual",
        0,
        targets=(450, 480, 500, 520),
        noise=0.12,
        trouble={"2025/26": -0.18},
    ),
    Spec(
        "PL-05",
        "Affordable homes delivered",
        PL,
        HOMES,
        "priya.patel",
        "claire.whitfield",
        "",
        "number",
        "higher",
        "quarterly",
        0,
        targets=(35, 40, 40, 45),
        noise=0.2,
    ),
    Spec(
        "PL-06",
        "Planning appeals allowed",
        PL,
        ECONOMY,
        "tom.brennan",
        "claire.whitfield",
        "",
        "percent",
        "lower",
        "quarterly",
        0,
        scheme="rag",
        tolerance="10%",
        targets=(30, 30, 28, 28),
        noise=0.15,
    ),
    Spec(
        "EW-01",
        "Household waste sent for reuse, recycling and composting",
        EW,
        GREEN,
        "nicola.green",
        "steve.holloway",
        "emma.doyle",
        "percent",
        "higher",
        "quarterly",
        1,
        targets=(48, 50, 52, 55),
        noise=0.04,
        profile="seasonal",
        trouble={"2025/26 Q3": -0.09, "2025/26 Q4": -0.12, "2026/27 Q1": -0.08},
    ),
    Spec(
        "EW-02",
        "Residual household waste per household (kg)",
        EW,
        GREEN,
        "nicola.green",
        "steve.holloway",
        "",
        "number",
        "lower",
        "quarterly",
        0,
        targets=(115, 112, 110, 105),
        noise=0.04,
    ),
    Spec(
        "EW-03",
        "Missed bin collections per 100,000 collections",
        EW,
        GREEN,
        "ravi.chauhan",
        "steve.holloway",
        "emma.doyle",
        "number",
        "lower",
        "monthly",
        0,
        scheme="rag",
        tolerance="10%",
        targets=(50, 45, 45, 40),
        noise=0.12,
        trouble={"2023/24 M10": -0.3, "2025/26 M4": -0.25},
    ),
    Spec(
        "EW-04",
        "Fly-tipping incidents cleared within two working days",
        EW,
        GREEN,
        "ravi.chauhan",
        "steve.holloway",
        "",
        "percent",
        "higher",
        "monthly",
        1,
        targets=(92, 94, 95, 96),
        noise=0.02,
    ),
    Spec(
        "EW-05",
        "Streets meeting the cleanliness standard for litter",
        EW,
        GREEN,
        "ravi.chauhan",
        "steve.holloway",
        "",
        "percent",
        "higher",
        "half-yearly",
        0,
        targets=(92, 92, 93, 93),
        noise=0.03,
        missing=("2024/25 H2",),
    ),
    Spec(
        "EW-06",
        "Food hygiene inspections completed on time",
        EW,
        GREEN,
        "nicola.green",
        "steve.holloway",
        "",
        "percent",
        "higher",
        "quarterly",
        1,
        targets=(100, 100, 100, 100),
        noise=0.015,
    ),
    Spec(
        "HC-01",
        "Households in temporary accommodation",
        HC,
        HOMES,
        "kwame.mensah",
        "janet.obrien",
        "dan.evans",
        "number",
        "lower",
        "monthly",
        0,
        data_only=True,
        targets=(60, 68, 75, 80),
        noise=0.06,
    ),
    Spec(
        "HC-02",
        "Homelessness cases prevented or relieved",
        HC,
        HOMES,
        "kwame.mensah",
        "janet.obrien",
        "dan.evans",
        "percent",
        "higher",
        "quarterly",
        0,
        targets=(55, 58, 60, 62),
        noise=0.06,
        trouble={"2025/26 Q2": -0.12, "2025/26 Q3": -0.14},
    ),
    Spec(
        "HC-03",
        "Average days to re-let council homes",
        HC,
        HOMES,
        "sophie.turner",
        "janet.obrien",
        "",
        "days",
        "lower",
        "monthly",
        1,
        targets=(30, 28, 26, 25),
        noise=0.1,
        trouble={"2026/27 M4": -0.15, "2026/27 M5": -0.13, "2026/27 M6": -0.16},
    ),
    Spec(
        "HC-04",
        "Rent collected from council tenants",
        HC,
        HOMES,
        "sophie.turner",
        "janet.obrien",
        "",
        "percent",
        "higher",
        "monthly",
        1,
        targets=(98, 98.2, 98.5, 98.5),
        noise=0.008,
    ),
    Spec(
        "HC-05",
        "Disabled facilities grants completed within 20 weeks",
        HC,
        HOMES,
        "sophie.turner",
        "janet.obrien",
        "",
        "percent",
        "higher",
        "quarterly",
        0,
        targets=(70, 72, 75, 75),
        noise=0.08,
    ),
    Spec(
        "HC-06",
        "Repeat victims of serious anti-social behaviour",
        HC,
        HOMES,
        "kwame.mensah",
        "janet.obrien",
        "",
        "number",
        "lower",
        "quarterly",
        0,
        tolerance="2",
        targets=(0, 0, 0, 0),
        noise=0.0,
    ),
    Spec(
        "CS-01",
        "Stage 1 complaints answered within 10 working days",
        CS,
        GOOD_SERVICES,
        "ben.carter",
        "alison.reeves",
        "chris.walsh",
        "percent",
        "higher",
        "monthly",
        0,
        targets=(85, 88, 90, 90),
        noise=0.05,
        trouble={"2025/26 M9": -0.12},
    ),
    Spec(
        "CS-02",
        "Calls answered within 60 seconds",
        CS,
        GOOD_SERVICES,
        "ben.carter",
        "alison.reeves",
        "chris.walsh",
        "percent",
        "higher",
        "monthly",
        0,
        scheme="rag",
        targets=(75, 78, 80, 80),
        noise=0.06,
        profile="seasonal",
    ),
    Spec(
        "CS-03",
        "Freedom of information requests answered within 20 working days",
        CS,
        GOOD_SERVICES,
        "fatima.begum",
        "alison.reeves",
        "",
        "percent",
        "higher",
        "monthly",
        0,
        targets=(90, 90, 92, 92),
        noise=0.04,
    ),
    Spec(
        "CS-04",
        "Undisputed invoices paid within 30 days",
        CS,
        GOOD_SERVICES,
        "fatima.begum",
        "alison.reeves",
        "",
        "percent",
        "higher",
        "monthly",
        1,
        targets=(96, 97, 97, 97.5),
        noise=0.01,
    ),
    Spec(
        "CS-05",
        "Customer satisfaction with the contact centre",
        CS,
        GOOD_SERVICES,
        "ben.carter",
        "alison.reeves",
        "",
        "percent",
        "higher",
        "quarterly",
        0,
        targets=(80, 82, 85, 85),
        noise=0.04,
    ),
    Spec(
        "CS-06",
        "Compliments received",
        CS,
        GOOD_SERVICES,
        "fatima.begum",
        "alison.reeves",
        "",
        "number",
        "higher",
        "quarterly",
        0,
        data_only=True,
        targets=(120, 130, 140, 150),
        noise=0.15,
    ),
    Spec(
        "OD-01",
        "Working days lost to sickness absence per FTE",
        OD,
        GOOD_SERVICES,
        "hannah.wright",
        "ian.fletcher",
        "olu.adeyemi",
        "days",
        "lower",
        "quarterly",
        2,
        targets=(2.3, 2.2, 2.1, 2.0),
        noise=0.07,
        profile="seasonal",
        trouble={"2024/25 Q3": -0.18, "2025/26 Q3": -0.12},
    ),
    Spec(
        "OD-02",
        "Staff turnover",
        OD,
        GOOD_SERVICES,
        "hannah.wright",
        "ian.fletcher",
        "",
        "percent",
        "lower",
        "quarterly",
        1,
        targets=(3.5, 3.2, 3.0, 3.0),
        noise=0.1,
    ),
    Spec(
        "OD-03",
        "Mandatory training completed",
        OD,
        GOOD_SERVICES,
        "hannah.wright",
        "ian.fletcher",
        "olu.adeyemi",
        "percent",
        "higher",
        "quarterly",
        0,
        targets=(90, 92, 95, 96),
        noise=0.03,
    ),
    Spec(
        "OD-04",
        "Apprenticeship starts",
        OD,
        ECONOMY,
        "hannah.wright",
        "ian.fletcher",
        "",
        "number",
        "higher",
        "half-yearly",
        0,
        targets=(8, 10, 12, 12),
        noise=0.2,
    ),
    Spec(
        "OD-05",
        "Employees who would recommend the council as a place to work",
        OD,
        GOOD_SERVICES,
        "ian.fletcher",
        "david.okafor",
        "",
        "percent",
        "higher",
        "annual",
        0,
        targets=(65, 68, 70, 72),
        noise=0.05,
    ),
    Spec(
        "KA-01",
        "Submit the new Local Plan for examination",
        PL,
        HOMES,
        "claire.whitfield",
        "sarah.lindqvist",
        "priya.patel",
        kind="key action",
        due_date="2026-12-18",
        frequency="quarterly",
    ),
    Spec(
        "KA-02",
        "Roll out weekly food waste collections to every household",
        EW,
        GREEN,
        "steve.holloway",
        "sarah.lindqvist",
        "nicola.green",
        kind="key action",
        due_date="2026-03-31",
        frequency="quarterly",
    ),
    Spec(
        "KA-03",
        "Open the town centre customer service hub",
        CS,
        GOOD_SERVICES,
        "alison.reeves",
        "david.okafor",
        "",
        kind="key action",
        due_date="2025-09-30",
        frequency="quarterly",
    ),
    Spec(
        "KA-04",
        "Replace the HR and payroll system",
        OD,
        GOOD_SERVICES,
        "ian.fletcher",
        "david.okafor",
        "hannah.wright",
        kind="key action",
        due_date="2026-06-30",
        frequency="quarterly",
    ),
    Spec(
        "KA-05",
        "Build 100 new council homes",
        HC,
        HOMES,
        "janet.obrien",
        "sarah.lindqvist",
        "sophie.turner",
        kind="key action",
        due_date="2027-03-31",
        frequency="quarterly",
    ),
    Spec(
        "KA-06",
        "Move the revenues and benefits system to the cloud",
        RB,
        GOOD_SERVICES,
        "mark.taylor",
        "david.okafor",
        "gareth.jones",
        kind="key action",
        due_date="2025-12-31",
        frequency="quarterly",
    ),
]

# How key actions were reported, quarter by quarter from 2023/24 Q1 (fewer: started later).

# ---- Cabinet portfolios and Council Plan priorities (issue 18) ------------------------------
# Each measure is reported to one Cabinet member's portfolio; a few serve a second Council
# Plan priority besides their own (seed 002: an activity entered once, reported under each).
FINANCE, GROWTH, CLIMATE, HOUSING, COMMUNITIES, CUSTOMERS, PEOPLE_PORTFOLIO = (
    "Finance and Resources",
    "Planning and Economic Growth",
    "Environment and Climate Change",
    "Housing",
    "Communities and Public Protection",
    "Customers and Digital",
    "Corporate Services and People",
)
PORTFOLIOS = {
    **dict.fromkeys(["RB-01", "RB-02", "RB-03", "RB-04", "RB-05", "RB-06", "CS-04"], FINANCE),
    **dict.fromkeys(["KA-06"], FINANCE),
    **dict.fromkeys(["PL-01", "PL-02", "PL-03", "PL-06", "OD-04", "KA-01"], GROWTH),
    **dict.fromkeys(["EW-01", "EW-02", "EW-03", "EW-04", "EW-05", "KA-02"], CLIMATE),
    **dict.fromkeys(["HC-01", "HC-03", "HC-04", "HC-05", "PL-04", "PL-05", "KA-05"], HOUSING),
    **dict.fromkeys(["HC-02", "HC-06", "EW-06"], COMMUNITIES),
    **dict.fromkeys(["CS-01", "CS-02", "CS-03", "CS-05", "CS-06", "KA-03"], CUSTOMERS),
    **dict.fromkeys(["OD-01", "OD-02", "OD-03", "OD-05", "KA-04"], PEOPLE_PORTFOLIO),
}
ALSO_UNDER = {  # a second priority, after the measure's own
    "PL-05": ECONOMY,  # affordable homes: homes, and the jobs and investment that build them
    "KA-01": ECONOMY,  # the Local Plan: where homes and employment land go
    "EW-04": HOMES,  # fly-tipping cleared: clean streets, and safe neighbourhoods
    "OD-04": GOOD_SERVICES,  # apprenticeships: local jobs, and the council's own workforce
}


def priorities_of(spec: Spec) -> str:
    """The measures sheet's priorities cell: the measure's own priority, then any other."""
    return "; ".join([spec.priority, *([ALSO_UNDER[spec.code]] if spec.code in ALSO_UNDER else [])])


KEY_ACTION_HISTORY = {
    "KA-01": ["on track"] * 6
    + [
        "some risk",
        "some risk",
        "on track",
        "on track",
        "on track",
        "some risk",
        "on track",
        "on track",
    ],
    "KA-02": ["on track"] * 8
    + ["on track", "some risk", "some risk", "complete", "complete", "complete"],
    "KA-03": ["on track"] * 5
    + [
        "on track",
        "some risk",
        "unlikely",
        "on track",
        "complete",
        "complete",
        "complete",
        "complete",
        "complete",
    ],
    "KA-04": ["on track"] * 8
    + ["some risk", "unlikely", "unlikely", "some risk", "some risk", "unlikely"],
    "KA-05": ["on track"] * 10 + ["on track", "on track", "on track", "on track"],
    "KA-06": ["on track"] * 6
    + [
        "on track",
        "on track",
        "on track",
        "complete",
        "complete",
        "complete",
        "complete",
        "complete",
    ],
}

COLLECTION_PROFILE = [0.11, 0.205, 0.30, 0.395, 0.49, 0.585, 0.68, 0.775, 0.87, 0.955, 0.975, 1.0]

ON_TRACK = [
    "On track. Performance in line with the profile for the period.",
    "Performance is where we expected; no concerns this period.",
    "Steady performance; the team is fully staffed and workloads are manageable.",
    "Better than last period thanks to the process changes made earlier in the year.",
    "On target. We continue to monitor weekly at the service management meeting.",
]
OFF_TRACK = [
    "Below target because of {cause}. Action: {action}; we expect to be back on track by {by}.",
    "Performance dipped owing to {cause}. We are {action}, and expect recovery by {by}.",
    "{cause_cap} affected performance this period. Remedial action: {action}. Target date {by}.",
]
CAUSES = [
    "two long-term vacancies in the team",
    "a spike in demand after the annual billing run",
    "the system upgrade taking the service offline for four days",
    "staff sickness over the winter",
    "a backlog carried over from the previous quarter",
    "severe weather disrupting rounds",
]
ACTIONS = [
    "recruiting two temporary officers",
    "running overtime sessions to clear the backlog",
    "redeploying staff from a neighbouring team for six weeks",
    "reviewing the process with the systems supplier",
    "prioritising the oldest cases first",
]
KEY_ACTION_COMMENTARY = {
    "on track": "Milestones for the period met; the project board is content with progress.",
    "some risk": "Supplier delays put the next milestone at risk; mitigation agreed at the project board.",
    "unlikely": "The timetable cannot be met: the project board will recommend a revised plan to Leadership Team.",
    "complete": "Complete. Benefits are being tracked through the service plan.",
}


# ---- issue 18, measure profiles and benchmarks ---------------------------------------------

# Year-to-date measures: marked cumulative, so compared with the same month of earlier years.
CUMULATIVE = frozenset(spec.code for spec in MEASURES if spec.profile == "cumulative")

# Benchmarks as councils publish them (seed 001's comparator groups, seed 004's sources):
# code, period (written for the fixture's year; "" for any period), group, value, quartile
# boundaries (lower, median, upper; "" for none) and source. RB-01 is cumulative, so its
# comparators are of the same month: the quarter ends and the year's outturn.
BENCHMARKS = [
    ("RB-01", "2025/26 M6", "CIPFA nearest neighbours", "57.4", ("56.2", "57.1", "58.0"), "CIPFA"),
    ("RB-01", "2025/26 M12", "England", "95.9", ("", "", ""), "DLUHC"),
    ("RB-01", "2025/26 M12", "CIPFA nearest neighbours", "96.8", ("96.1", "96.7", "97.3"), "CIPFA"),
    ("RB-03", "2025/26", "England", "19.0", ("", "", ""), "LG Inform"),
    (
        "RB-03",
        "2025/26",
        "Statistical nearest neighbours",
        "18.2",
        ("15.9", "18.0", "20.4"),
        "LG Inform",
    ),
    ("RB-03", "", "CIPFA nearest neighbours", "18.5", ("", "", ""), "CIPFA"),
    ("RB-06", "2025/26", "England", "86.4", ("", "", ""), "DWP"),
    (
        "RB-06",
        "2025/26",
        "Statistical nearest neighbours",
        "88.1",
        ("84.0", "87.5", "90.2"),
        "LG Inform",
    ),
    ("PL-01", "2025/26", "England", "89", ("", "", ""), "DLUHC"),
    ("PL-01", "2025/26", "CIPFA nearest neighbours", "87", ("81", "88", "93"), "LG Inform"),
    ("EW-01", "2024/25", "England", "41.7", ("", "", ""), "LG Inform"),
    ("EW-01", "2025/26", "England", "42.3", ("", "", ""), "LG Inform"),
    ("EW-01", "2025/26", "CIPFA nearest neighbours", "47.5", ("42.0", "47.1", "52.3"), "CIPFA"),
    ("EW-01", "2025/26", "APSE family group", "45.0", ("", "", ""), "APSE"),
    ("HC-03", "2025/26", "Housemark peer group", "36.0", ("27.0", "35.0", "46.0"), "Housemark"),
    ("HC-03", "2025/26", "England", "41.0", ("", "", ""), "LG Inform"),
]


def benchmark_rows(years: Years) -> list[list[str]]:
    """The benchmarks sheet, its periods moved to the council's years."""
    rows = [
        ["code", "period", "group", "value", "lower_quartile", "median", "upper_quartile", "source"]
    ]
    for code, period, group, value, quartiles, source in BENCHMARKS:
        rows.append([code, years.shift(period) if period else "", group, value, *quartiles, source])
    return rows


def email(local: str) -> str:
    return f"{local}@{DOMAIN}"


def _round(value: float, decimals: int) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Years:
    """The financial years of a council as of a day: three complete ones and the current."""

    current: int  # the year the current financial year starts in

    @classmethod
    def of(cls, day: date) -> Years:
        return cls(day.year if day.month >= 4 else day.year - 1)

    @property
    def first(self) -> int:
        return self.current - 3

    def shift(self, label: str) -> str:
        """A period the measures below name for the fixture's year, moved to this one's."""
        period = Period.parse(label)
        return replace(period, year=period.year + self.current - SPEC_YEAR).label


def periods_of(spec: Spec, years: Years, last: date) -> list[Period]:
    frequency = Frequency.parse(spec.frequency)
    first = Period.containing(date(years.first, 4, 1), frequency)
    final = Period.containing(date(years.current + 1, 3, 31), frequency)
    return [p for p in periods_between(first, final) if p.end <= last or last == date.max]


def target_for(spec: Spec, period: Period, years: Years) -> float:
    annual = spec.targets[period.year - years.first]
    if spec.profile == "cumulative":
        return annual * COLLECTION_PROFILE[period.index - 1]
    return annual


def actual_for(
    spec: Spec, period: Period, target: float, rng: random.Random, trouble: dict[str, float]
) -> float:
    better = 1 if spec.polarity == "higher" else -1
    shift = rng.gauss(0.004, spec.noise) * better
    if spec.profile == "seasonal" and period.start.month in (11, 12, 1, 2):
        shift -= 0.03 * better
    shift += trouble.get(period.label, 0) * better
    if spec.code == "HC-06":  # a zero target: a count of repeat victims, usually none
        return float(rng.choice([0, 0, 0, 0, 1, 1, 2, 3]))
    value = target * (1 + shift)
    if spec.unit == "percent":
        value = min(value, 100.0)
    return max(value, 0.0)


def submission_time(period: Period, calendar: WorkingCalendar, rng: random.Random) -> datetime:
    deadline = calendar.deadline(period, 15)
    day = calendar.add_working_days(deadline, -rng.randint(0, 6))
    moment = datetime.combine(day, time(rng.randint(8, 16), rng.randint(0, 59)))
    return moment


def closure_days(years: Years) -> list[date]:
    """The council's Christmas closure: the working days from 24 to 31 December."""
    plain = WorkingCalendar()
    days = []
    for year in range(years.first, years.current + 1):
        day = date(year, 12, 24)
        while day < date(year + 1, 1, 1):
            if plain.is_working_day(day):
                days.append(day)
            day += timedelta(days=1)
    return days


def last_working_day(day: date, calendar: WorkingCalendar) -> date:
    while not calendar.is_working_day(day):
        day -= timedelta(days=1)
    return day


def _due_date(text: str, years: Years) -> str:
    """A key action's due date, written for the fixture's year, moved to this one's."""
    if not text:
        return ""
    day = date.fromisoformat(text)
    return day.replace(year=day.year + years.current - SPEC_YEAR).isoformat()


def build(as_of: date = FIXTURE_DAY, demo: bool = False) -> dict[str, list[list[str]]]:
    rng = random.Random(SEED)
    years = Years.of(as_of)
    # Monthly figures are in up to the month before last: last month's is open.
    reported_to = Period.containing(as_of, Frequency.MONTHLY).previous().previous().end
    closures = closure_days(years)
    calendar = WorkingCalendar()  # submission times, as the fixture has always had them
    council = WorkingCalendar(closures)  # the council's own, for the demo's deadline
    # The demo's touches for Amina: RB-06's last quarter open and due on the working day
    # after the last working morning (whose reminder is then owed), and RB-02's month
    # before last missing, so overdue.
    rb06_open = Period.containing(as_of, Frequency.QUARTERLY).previous()
    rb06_due = council.add_working_days(last_working_day(as_of, council), 1)
    rb02_missing = Period.containing(as_of, Frequency.MONTHLY).previous().previous()
    people = [["email", "name", "service", "role", "manager_email"]]
    for local, name, service, roles, manager in PEOPLE:
        people.append([email(local), name, service, roles, email(manager) if manager else ""])

    measures = [
        [
            "code",
            "title",
            "kind",
            "service",
            "portfolio",
            "priorities",
            "owner_email",
            "delegate_emails",
            "escalation_owner_email",
            "unit",
            "polarity",
            "frequency",
            "decimals",
            "scheme",
            "tolerance",
            "data_only",
            "deadline_working_days",
            "due_date",
            "cumulative",
        ]
    ]
    targets = [["code", "period", "target"]]
    actuals = [["code", "period", "actual", "commentary", "submitted_by", "submitted_at"]]
    for spec in MEASURES:
        key_action = spec.kind == "key action"
        trouble = {years.shift(label): shift for label, shift in spec.trouble.items()}
        missing = {years.shift(label) for label in spec.missing}
        # The demo's open returns are left out only at the end, so that the random figures of
        # every other return are the same with and without them.
        left_open: set[str] = set()
        deadline_days = 15
        if demo and spec.code == "RB-06":
            left_open.add(rb06_open.label)
            deadline_days = council.working_days_between(rb06_open.end, rb06_due)
        if demo and spec.code == "RB-02":
            left_open.add(rb02_missing.label)
        measures.append(
            [
                spec.code,
                spec.title,
                spec.kind,
                spec.service,
                PORTFOLIOS[spec.code],
                priorities_of(spec),
                email(spec.owner),
                ";".join(email(d) for d in spec.delegates.split(";") if d),
                email(spec.escalation),
                "" if key_action else spec.unit,
                "" if key_action else spec.polarity,
                spec.frequency,
                "" if key_action else str(spec.decimals),
                spec.scheme,
                spec.tolerance,
                "yes" if spec.data_only else "no",
                str(deadline_days),
                _due_date(spec.due_date, years),
                "yes" if spec.code in CUMULATIVE else "no",
            ]
        )
        if key_action:
            history = KEY_ACTION_HISTORY[spec.code]
            reported = periods_of(spec, years, reported_to)
            shown = min(len(history), len(reported))  # early in a year, fewer quarters are in
            for period, status in zip(reported[-shown:], history[-shown:], strict=True):
                submitter = rng.choice([spec.owner, *filter(None, spec.delegates.split(";"))])
                at = submission_time(period, calendar, rng)
                actuals.append(
                    [
                        spec.code,
                        period.label,
                        status,
                        KEY_ACTION_COMMENTARY[status],
                        email(submitter),
                        at.strftime("%Y-%m-%d %H:%M"),
                    ]
                )
            continue
        for period in periods_of(spec, years, date.max):
            target = target_for(spec, period, years)
            if not spec.data_only:
                targets.append([spec.code, period.label, str(_round(target, spec.decimals))])
            if period.end > reported_to or period.label in missing:
                continue
            value = _round(actual_for(spec, period, target, rng, trouble), spec.decimals)
            off = (
                not spec.data_only
                and target != 0
                and ((float(value) - target) / abs(target))
                * (1 if spec.polarity == "higher" else -1)
                < -0.02
            ) or (spec.code == "HC-06" and value > 0)
            if off:
                by = (period.end + timedelta(days=rng.choice([60, 90, 120]))).strftime("%B %Y")
                cause = rng.choice(CAUSES)
                commentary = rng.choice(OFF_TRACK).format(
                    cause=cause,
                    cause_cap=cause[0].upper() + cause[1:],
                    action=rng.choice(ACTIONS),
                    by=by,
                )
            else:
                commentary = rng.choice(ON_TRACK)
            submitter = rng.choice([spec.owner, *filter(None, spec.delegates.split(";"))])
            at = submission_time(period, calendar, rng)
            if period.label in left_open:
                continue
            actuals.append(
                [
                    spec.code,
                    period.label,
                    f"{value}",
                    commentary,
                    email(submitter),
                    at.strftime("%Y-%m-%d %H:%M"),
                ]
            )

    # Each service's leadership contact (who hears of its overdue escalations when its
    # escalation owner cannot be reached): the Leadership Team member its escalation owner
    # reports to.
    leaders = {local for local, _, _, roles, _ in PEOPLE if "leadership" in roles}
    services = [["name", "leadership_contact"]]
    for name in sorted({row[3] for row in measures[1:]}):
        contact = next(
            (
                manager
                for _, _, service, roles, manager in PEOPLE
                if service == name and "escalation_owner" in roles and manager in leaders
            ),
            "",
        )
        services.append([name, email(contact) if contact else ""])

    closed = [["date", "description"]]
    for day in closures:
        closed.append([day.isoformat(), "Council offices closed between Christmas and New Year"])
    return {
        "people": people,
        "services": services,
        "measures": measures,
        "targets": targets,
        "actuals": actuals,
        "calendar": closed,
        "benchmarks": benchmark_rows(years),
        "milestones": milestones(as_of),
    }


# Key actions' milestones, dated by days from the council's day (so that on any day, as on
# the fixture's 23 November 2026, one is past its date and not complete, one is due within a
# fortnight and one is complete): (key action, milestone, owner or "" for the key action's,
# days from the day, status, days from the day it was completed on, revised: days from the day).
MILESTONES: list[tuple[str, str, str, int, str, int | None, int | None]] = [
    ("KA-05", "Planning consent for the Elm Road site", "sophie.turner", -70, "complete", -75, None),
    ("KA-05", "Appoint the contractor for Elm Road", "", -21, "some risk", None, None),
    ("KA-05", "Start on site at Elm Road", "", 10, "on track", None, None),
    ("KA-01", "Submit the plan to the Planning Inspectorate", "priya.patel", 20, "on track", None, None),
    ("KA-04", "Run the new payroll in parallel for two months", "hannah.wright", 30, "some risk", None, 45),
]  # fmt: skip


def milestones(as_of: date) -> list[list[str]]:
    """The milestones sheet of the sample council as of ``as_of``."""
    rows = [
        [
            "code",
            "milestone",
            "owner_email",
            "due_date",
            "status",
            "revised_date",
            "completed_on",
        ]
    ]
    for code, title, owner, due, status, completed, revised in MILESTONES:

        def day(offset: int | None) -> str:
            return "" if offset is None else (as_of + timedelta(days=offset)).isoformat()

        rows.append(
            [
                code,
                title,
                email(owner) if owner else "",
                day(due),
                status,
                day(revised),
                day(completed),
            ]
        )
    return rows


# `perfbot sample load` signs off the sample's history: every period that ended more than
# this many days before its day, so that the demo has signed-off periods and open recent ones.
SIGNED_OFF_AFTER_DAYS = 90
SIGNED_OFF_BY = "sample"
SIGNED_OFF_REASON = "Signed off before PerfBot took over (sample data)"


def signed_off(as_of: date) -> list[str]:
    """The periods of the sample's measures' frequencies, from the start of its history, that
    ended more than ``SIGNED_OFF_AFTER_DAYS`` days before ``as_of``: what `perfbot sample
    load` locks. Oldest first, frequency by frequency."""
    years = Years.of(as_of)
    frequencies = sorted(
        {Frequency.parse(spec.frequency) for spec in MEASURES}, key=list(Frequency).index
    )
    labels = []
    for frequency in frequencies:
        period = Period.containing(date(years.first, 4, 1), frequency)
        while (as_of - period.end).days > SIGNED_OFF_AFTER_DAYS:
            labels.append(period.label)
            period = period.next()
    return labels


async def sign_off(session: AsyncSession, as_of: date, now: datetime) -> list[str]:
    """Lock the sample's signed-off history (``signed_off``) as of ``now``, forced (its
    returns were never approved in PerfBot); those locked already are left as they are.
    The labels it locked."""
    done = await views.locked_periods(session)
    locked = []
    for label in signed_off(as_of):
        if label not in done:
            await locks.lock(session, label, SIGNED_OFF_BY, now, SIGNED_OFF_REASON, force=True)
            locked.append(label)
    return locked


def render(table: list[list[str]]) -> str:
    import io

    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(table)
    return out.getvalue()


def write(out: Path, tables: dict[str, list[list[str]]]) -> None:
    """The council as a folder of CSV files, as `perfbot import` reads them."""
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        (out / f"{name}.csv").write_text(render(table), encoding="utf-8")


def main(out: Path = OUT) -> int:
    tables = build()
    write(out, tables)
    for name, table in tables.items():
        print(f"wrote {out / f'{name}.csv'}: {len(table) - 1} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
