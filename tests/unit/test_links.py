"""Signed links to a report (domain/links.py): a link works for its person, its report and
its hours only; anything changed in it, or made with another key, is refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from domain.links import Link, LinkExpired, LinkInvalid, derived_secret

KEY = "k" * 40
NOW = datetime(2026, 11, 23, 11, 40, tzinfo=UTC)
LINK = Link(7, "board", "2026/27 Q2", NOW + timedelta(hours=4))


def _parts(token: str) -> tuple[dict[str, object], str]:
    body, signature = token.split(".")
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))), signature


def _with(token: str, **changes: object) -> str:
    """The token with its fields changed and its old signature kept (a forgery)."""
    fields, signature = _parts(token)
    fields.update(changes)
    body = base64.urlsafe_b64encode(json.dumps(fields).encode()).rstrip(b"=").decode()
    return f"{body}.{signature}"


def test_a_link_verifies_as_itself_until_it_expires():
    token = LINK.sign(KEY)
    assert Link.verify(token, KEY, NOW) == LINK
    assert Link.verify(token, KEY, LINK.expires - timedelta(seconds=1)) == LINK


def test_a_link_past_its_hours_is_expired_not_invalid():
    token = LINK.sign(KEY)
    with pytest.raises(LinkExpired) as expired:
        Link.verify(token, KEY, LINK.expires)
    assert expired.value.link.person_id == 7


@pytest.mark.parametrize(
    "changes",
    [
        {"p": 8},  # another person's
        {"k": "exceptions"},
        {"d": "2026/27 Q1"},
        {"s": "Revenues and Benefits"},  # a filter added
        {"e": int((NOW + timedelta(days=30)).timestamp())},  # hours stretched
    ],
)
def test_changing_anything_in_a_signed_link_breaks_its_signature(changes):
    with pytest.raises(LinkInvalid, match="signature"):
        Link.verify(_with(LINK.sign(KEY), **changes), KEY, NOW)


def test_an_expired_link_with_its_time_moved_on_is_a_forgery_not_a_renewal():
    old = Link(7, "board", "2026/27 Q2", NOW - timedelta(hours=1)).sign(KEY)
    with pytest.raises(LinkInvalid):
        Link.verify(_with(old, e=int((NOW + timedelta(hours=3)).timestamp())), KEY, NOW)


def test_a_link_signed_with_another_key_is_refused():
    with pytest.raises(LinkInvalid, match="signature"):
        Link.verify(LINK.sign("another key " * 4), KEY, NOW)


@pytest.mark.parametrize(
    "token",
    ["", "nodot", "a.b.c", "!!!.???", "é.é", "x" * 3000, LINK.sign(KEY).split(".")[0] + "."],
)
def test_malformed_tokens_are_invalid(token):
    with pytest.raises(LinkInvalid):
        Link.verify(token, KEY, NOW)


def test_a_signed_body_of_the_wrong_shape_is_invalid_not_a_crash():
    import hashlib
    import hmac

    for fields in ({"p": "7"}, {"p": True, "k": "b", "d": "x", "s": None, "r": None, "e": 1}, []):
        body = json.dumps(fields).encode()
        signature = hmac.new(KEY.encode(), body, hashlib.sha256).digest()
        token = ".".join(
            base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in (body, signature)
        )
        with pytest.raises(LinkInvalid, match="unreadable"):
            Link.verify(token, KEY, NOW)


def test_a_link_asks_for_exactly_its_report_and_filters():
    link = Link(7, "board", "2026/27 Q2", LINK.expires, service="Waste")
    assert link.asks_for("board", "2026/27 Q2", "waste ", None)
    assert not link.asks_for("board", "2026/27 Q2", None, None)  # the filter dropped: wider
    assert not link.asks_for("board", "2026/27 Q2", "Housing", None)
    assert not link.asks_for("exceptions", "2026/27 Q2", "Waste", None)
    assert not link.asks_for("board", "2026/27 Q1", "Waste", None)
    assert not link.asks_for("board", "2026/27 Q2", "Waste", "Thriving places")
    assert LINK.asks_for("board", "2026/27 Q2", "", "")


def test_the_derived_key_is_not_the_password_and_follows_it():
    assert derived_secret("hunter2") == derived_secret("hunter2")
    assert "hunter2" not in derived_secret("hunter2")
    assert derived_secret("hunter2") != derived_secret("hunter3")
    assert len(derived_secret("x")) >= 32
