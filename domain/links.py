"""Signed links to a report page (issue 15): PerfBot gives a person in chat a link to the
board that is theirs alone, for what they may see, for a few hours. The link carries who it
is for, which report, and until when, signed with the council's key (HMAC-SHA256); the page
answers only a link whose signature holds, that has not expired, and whose address asks for
exactly what was signed.

Pure rules: the moment and the key come in as arguments. No database, no web."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

MIN_SECRET = 32  # characters of a key a council sets itself
MAX_TOKEN = 2_000  # longer than any link PerfBot makes: refused unread


class LinkError(ValueError):
    """A link the page cannot answer; the message is safe to log (it holds no token)."""


class LinkInvalid(LinkError):
    """Not a link PerfBot made, or one changed since: malformed, a signature that does not
    hold, or an address that asks for something other than what was signed."""


class LinkExpired(LinkError):
    """A genuine link whose hours have run out."""

    def __init__(self, link: Link) -> None:
        super().__init__(f"the link for person {link.person_id} expired at {link.expires:%H:%M}")
        self.link = link


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or not text.isascii():
        raise LinkInvalid("the link is not one PerfBot made (not base64)")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise LinkInvalid("the link is not one PerfBot made (not base64)") from None


def _key(secret: str) -> bytes:
    return secret.encode("utf-8")


def _same(a: str | None, b: str | None) -> bool:
    """Filters as the page compares them: blank is none, and case does not matter."""
    return (a or "").strip().casefold() == (b or "").strip().casefold()


@dataclass(frozen=True)
class Link:
    """A link to one report for one person: ``kind`` is a ReportKind's value, ``period``
    the report's period label ("2025/26 Q2"), ``service`` and ``priority`` the filters it
    was made with (None: none), ``expires`` when it stops working (aware, UTC)."""

    person_id: int
    kind: str
    period: str
    expires: datetime
    service: str | None = None
    priority: str | None = None

    def sign(self, secret: str) -> str:
        """The token for the link's address: its fields and their signature."""
        body = json.dumps(
            {
                "p": self.person_id,
                "k": self.kind,
                "d": self.period,
                "s": self.service,
                "r": self.priority,
                "e": int(self.expires.timestamp()),
            },
            separators=(",", ":"),
            ensure_ascii=True,
        ).encode("ascii")
        signature = hmac.new(_key(secret), body, hashlib.sha256).digest()
        return f"{_b64(body)}.{_b64(signature)}"

    def asks_for(self, kind: str, period: str, service: str | None, priority: str | None) -> bool:
        """Whether an address asks for exactly this link's report (a changed kind, period
        or filter, or a filter dropped to see more, is not this link)."""
        return (
            self.kind == kind
            and self.period == period
            and _same(self.service, service)
            and _same(self.priority, priority)
        )

    @classmethod
    def verify(cls, token: str, secret: str, now: datetime) -> Link:
        """The link a token stands for, if PerfBot signed it with ``secret`` and it has not
        expired by ``now``. LinkInvalid for anything malformed or tampered with (checked
        before anything in it is read), LinkExpired for a genuine link past its time."""
        if not token or len(token) > MAX_TOKEN or token.count(".") != 1:
            raise LinkInvalid("the link is not one PerfBot made (no signature)")
        body_text, signature_text = token.split(".")
        body, signature = _unb64(body_text), _unb64(signature_text)
        wanted = hmac.new(_key(secret), body, hashlib.sha256).digest()
        if not hmac.compare_digest(signature, wanted):
            raise LinkInvalid("the link's signature does not hold: it was changed or not ours")
        try:
            fields = json.loads(body)
            link = cls(
                person_id=_whole(fields["p"]),
                kind=_word(fields["k"]),
                period=_word(fields["d"]),
                service=_optional(fields["s"]),
                priority=_optional(fields["r"]),
                expires=datetime.fromtimestamp(_whole(fields["e"]), UTC),
            )
        except (ValueError, KeyError, TypeError, OverflowError, OSError):
            raise LinkInvalid("the link is signed but unreadable") from None
        if now >= link.expires:
            raise LinkExpired(link)
        return link


def _whole(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("not a whole number")
    return value


def _word(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("not a word")
    return value


def _optional(value: object) -> str | None:
    if value is None:
        return None
    return _word(value)


def derived_secret(password: str) -> str:
    """A key for links worked out from the bot's client secret (MicrosoftAppPassword), for a
    council that sets no PERFBOT_LINK_SECRET: HMAC-SHA256 of a fixed label under the
    password, so the links' key is never the password itself, and changing the password
    ends every link made with it."""
    return hmac.new(
        password.encode("utf-8"), b"perfbot report links v1", hashlib.sha256
    ).hexdigest()
