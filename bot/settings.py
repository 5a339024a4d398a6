"""Settings: one frozen object built once from the environment and passed down."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from domain.dates import parse_day
from domain.db import DEFAULT_DATABASE_URL, database_url
from domain.links import MIN_SECRET, derived_secret
from domain.outbox import Timetable
from domain.policy import Policy
from domain.questions import CHOICES, ChoiceError, parse_required
from domain.ratings import Rating, RatingError, Scheme
from domain.reminders import Cadence, SendWindow, TimetableError
from domain.weekly import ScheduleError, SummarySchedule


class SettingsError(ValueError):
    """An environment variable PerfBot cannot use."""


class Secret:
    """A value that never shows itself in a repr or a log line."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


LOCAL_URL = "http://localhost:3978"  # `perfbot serve`'s own address, without an app id
LINK_HOURS = 4
MAX_LINK_HOURS = 24
# Links made without an app id are not checked (the page answers loopback only), so any key
# does; one per process, so nothing needs setting for local use.
_LOCAL_KEY = secrets.token_urlsafe(32)

# Every environment variable PerfBot reads; the README's configuration table matches this.
ENVIRONMENT = {
    "PERFBOT_DATABASE_URL": f"database URL (default {DEFAULT_DATABASE_URL.replace('+aiosqlite', '')})",
    "PERFBOT_DEFAULT_SCHEME": "the council's rating scheme: strong-good-review-action (default) or rag",
    "MicrosoftAppId": "the bot's Azure app id; unset for local use with the Agents Playground",
    "MicrosoftAppPassword": "the app's client secret",
    "MicrosoftAppType": "SingleTenant (default when an app id is set), MultiTenant or UserAssignedMSI",
    "MicrosoftAppTenantId": "the council's Entra tenant id (SingleTenant)",
    "PERFBOT_TENANT_ID": "the one Entra tenant PerfBot answers, for a bot without an app id (local runs) or a MultiTenant one; activities from any other tenant are refused and audited (default: MicrosoftAppTenantId; unset and no app tenant: any)",
    "PERFBOT_SEND_HOURS": "when messages may go out on working days: 08:00-18:00 (default) or always",
    "PERFBOT_TIMEZONE": "the council's time zone (default Europe/London)",
    "PERFBOT_REMINDER_DAYS": "working days before the deadline to remind (default 5,1,0)",
    "PERFBOT_CHASER_DAYS": "working days after the deadline to chase (default 1,3)",
    "PERFBOT_ESCALATE_AFTER_DAYS": "working days overdue before the escalation owner is told (default 5)",
    "PERFBOT_ESCALATE_RATINGS": "the ratings escalated at once, comma-separated (default Action,Red; Review and Amber may be added)",
    "PERFBOT_ACKNOWLEDGE_DAYS": "working days an escalation may wait unacknowledged before one reminder (default 3)",
    "PERFBOT_DEEP_DIVE_PERIODS": "periods off track running before a deep dive is suggested to the Leadership Team (default 2)",
    "PERFBOT_REQUIRED_QUESTIONS": f"what an off-track return must have besides its commentary, comma-separated: any of {', '.join(CHOICES)} (action: the action and its date), or none (default action)",
    "PERFBOT_TENANT_RATE": "sends allowed per tenant, as count/seconds (default 50/1)",
    "PERFBOT_CONVERSATION_RATES": "sends allowed per conversation (default 7/1,8/2,60/30,1800/3600)",
    "PERFBOT_CLAIM_LEASE_SECONDS": "how long a dispatcher holds rows it took before another may (default 120)",
    "PERFBOT_OPEN_FROM": "a date: periods that ended before it are never asked for (default: each measure's first target or return)",
    "PERFBOT_SUMMARY_DAY": "the weekday the Leadership Team's weekly summary goes (default monday; a bank holiday or closure day moves it to the next working day)",
    "PERFBOT_SUMMARY_TIME": "when on that day, HH:MM in PERFBOT_TIMEZONE (default 09:00)",
    "PERFBOT_SUMMARY_EVERY_WEEKS": "the summary goes every this many weeks (default 1; 3 for three-weekly dashboards)",
    "PERFBOT_SUMMARY_FROM": "the date of one summary day, from which the weeks are counted (default 2024-04-01, a Monday)",
    "PERFBOT_DISPATCHERS": "dispatcher processes `perfbot serve` runs, each for its share of the people and of the tenant rate (default 1)",
    "PERFBOT_PUBLIC_URL": f"the address people's browsers reach PerfBot at, for the report links it gives (default {LOCAL_URL} without an app id; required, https, with one)",
    "PERFBOT_LINK_SECRET": f"the key report links are signed with, at least {MIN_SECRET} characters (default: worked out from MicrosoftAppPassword)",
    "PERFBOT_LINK_HOURS": f"hours a report link works after PerfBot gives it (default {LINK_HOURS}, at most {MAX_LINK_HOURS})",
    "PERFBOT_ENTRA_KEYS_URL": "where the board tab's sign-in tokens are checked against Entra's signing keys (default https://login.microsoftonline.com/<MicrosoftAppTenantId>/discovery/v2.0/keys; plain http only for a loopback stand-in)",
    # Read only by `perfbot package` (bot/teams_app.py), for the Teams app's manifest.
    "PERFBOT_COUNCIL_NAME": "the council's name, shown in Teams as the app's publisher (perfbot package)",
    "PERFBOT_SUPPORT_URL": "the https page where staff get help with PerfBot (perfbot package)",
    "PERFBOT_PRIVACY_URL": "the https address of the council's privacy notice for PerfBot (perfbot package)",
    "PERFBOT_TERMS_URL": "the https address of the terms of use for PerfBot (perfbot package)",
    "ToBotFromChannelOpenIdMetadataUrl": "botbuilder's own: where the channel's signing keys are published (unset: Microsoft's public cloud)",
    "ToBotFromChannelTokenIssuer": "botbuilder's own: the issuer the channel's tokens must name",
    "ToBotFromEmulatorOpenIdMetadataUrl": "botbuilder's own: the signing keys for Entra-issued (emulator and skill) tokens",
    "ToChannelFromBotLoginUrl": "botbuilder's own: the Entra authority PerfBot gets its outgoing token from",
    "ToChannelFromBotOAuthScope": "botbuilder's own: the scope of PerfBot's outgoing token",
    "OAuthUrl": "botbuilder's own: the Bot Framework token service",
    "ChannelService": "botbuilder's own: unset for the public cloud, https://botframework.azure.us for US Government",
}


def _days(env: Mapping[str, str], name: str) -> tuple[int, ...]:
    text = env.get(name, "").strip()
    return Cadence.days(text, name) if text else ()


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name} '{text}' is not a number of seconds") from None
    if not 1 <= value <= 3600:
        raise SettingsError(f"{name} '{text}' must be between 1 and 3600 seconds")
    return value


def _count(env: Mapping[str, str], name: str, default: int, most: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise SettingsError(f"{name} '{text}' must be a whole number from 1 to {most}")
    return int(text)


def _rates(text: str, name: str) -> list[tuple[int, float]]:
    """``7/1,8/2`` -> [(7, 1.0), (8, 2.0)]: so many sends per so many seconds."""
    out = []
    for part in text.split(","):
        try:
            count, seconds = part.strip().split("/")
            out.append((int(count), float(seconds)))
        except ValueError:
            raise SettingsError(
                f"{name} '{text}' is not like 50/1 (sends/seconds), comma-separated"
            ) from None
        if out[-1][0] < 1 or out[-1][1] <= 0:
            raise SettingsError(f"{name} '{text}' needs counts of 1 or more over positive seconds")
    return out


def _ratings(env: Mapping[str, str], name: str) -> frozenset[Rating]:
    text = env.get(name, "").strip()
    if not text:
        return Policy.escalate
    words = {rating.word.lower(): rating for rating in Rating}
    chosen = set()
    for part in text.split(","):
        rating = words.get(part.strip().lower())
        if rating is None or not rating.off_track:
            raise SettingsError(
                f"{name} '{part.strip()}' is not an off-track rating: use Review, Action, "
                "Amber or Red, comma-separated"
            )
        chosen.add(rating)
    return frozenset(chosen)


def _required(env: Mapping[str, str], name: str) -> frozenset[str]:
    try:
        return parse_required(env.get(name, ""))
    except ChoiceError as error:
        raise SettingsError(f"{name} {error}") from None


MAX_DISPATCHERS = 8

# botbuilder's own settings for a cloud other than Microsoft's public one (or a test's
# loopback stand-ins): the environment name, as botbuilder documents it, and the attribute
# its configuration object is read for. Any of them set, botbuilder takes every one from here.
BOT_FRAMEWORK = {
    "ToBotFromChannelOpenIdMetadataUrl": "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL",
    "ToBotFromChannelTokenIssuer": "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER",
    "ToBotFromEmulatorOpenIdMetadataUrl": "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL",
    "ToChannelFromBotLoginUrl": "TO_CHANNEL_FROM_BOT_LOGIN_URL",
    "ToChannelFromBotOAuthScope": "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE",
    "OAuthUrl": "OAUTH_URL",
}
_NEEDED = (
    "ToBotFromChannelOpenIdMetadataUrl",
    "ToBotFromChannelTokenIssuer",
    "ToChannelFromBotLoginUrl",
    "ToChannelFromBotOAuthScope",
)
_URLS = ("ToBotFromChannelOpenIdMetadataUrl", "ToBotFromEmulatorOpenIdMetadataUrl", "OAuthUrl")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
US_GOVERNMENT = "https://botframework.azure.us"


def _bot_framework(env: Mapping[str, str], app_id: str) -> dict[str, str]:
    """botbuilder's cloud settings (BOT_FRAMEWORK, ChannelService), checked so that a half
    set or mistyped one is one sentence at start-up rather than every token refused."""
    chosen = {name: env.get(name, "").strip() for name in BOT_FRAMEWORK}
    chosen = {name: value for name, value in chosen.items() if value}
    service = env.get("ChannelService", "").strip()
    if service and service != US_GOVERNMENT and not chosen:
        raise SettingsError(
            f"ChannelService '{service}' is not a cloud botbuilder knows: leave it unset for "
            f"the public cloud, set {US_GOVERNMENT} for US Government, or set "
            "ToBotFromChannelOpenIdMetadataUrl and the other To... settings for another cloud"
        )
    config = {"CHANNEL_SERVICE": service} if service else {}
    if not chosen:
        return config
    first = next(iter(chosen))
    if not app_id:
        raise SettingsError(
            f"{first} is set but MicrosoftAppId is not: botbuilder's cloud settings only "
            "apply to a bot with an app id"
        )
    for name in _NEEDED:
        if name not in chosen:
            raise SettingsError(
                f"{name} is not set: with {first} set botbuilder takes every cloud setting "
                f"from the environment, so set {', '.join(_NEEDED)} together"
            )
    for name in (*_URLS, "ToChannelFromBotLoginUrl"):
        if name not in chosen:
            continue
        try:
            url = urlsplit(chosen[name])
            host = url.hostname
        except ValueError:
            host = None
        loopback = host in _LOOPBACK and url.scheme == "http" and name in _URLS
        if not host or not (url.scheme == "https" or loopback):
            raise SettingsError(
                f"{name} '{chosen[name]}' is not an https:// URL (plain http only for a "
                "loopback stand-in of the keys or the token service, never for the login URL)"
            )
    return config | {BOT_FRAMEWORK[name]: value for name, value in chosen.items()}


def _public_url(env: Mapping[str, str], authenticated: bool) -> str:
    """PERFBOT_PUBLIC_URL: where browsers reach the bot (the host of /api/messages)."""
    text = env.get("PERFBOT_PUBLIC_URL", "").strip().rstrip("/")
    if not text:
        if authenticated:
            raise SettingsError(
                "PERFBOT_PUBLIC_URL is not set: with an app id PerfBot needs the https address "
                "people's browsers reach it at (the host of /api/messages, e.g. "
                "https://perfbot.council.gov.uk) to give them links to the board"
            )
        return LOCAL_URL
    scheme, _, rest = text.partition("://")
    host = rest.split("/")[0]
    if scheme not in ("http", "https") or not host or any(c in rest for c in "?#@ "):
        raise SettingsError(
            f"PERFBOT_PUBLIC_URL '{text}' is not an address like https://perfbot.council.gov.uk "
            "(scheme and host, optionally a path; no query, fragment or user name)"
        )
    if authenticated and scheme != "https":
        raise SettingsError(
            f"PERFBOT_PUBLIC_URL '{text}' must start with https:// when an app id is set: the "
            "links carry a person's access to the board"
        )
    return text


ENTRA = "https://login.microsoftonline.com"


def _entra_keys_url(env: Mapping[str, str]) -> str:
    """PERFBOT_ENTRA_KEYS_URL: a stand-in for Entra's key list (tests, a sovereign cloud)."""
    text = env.get("PERFBOT_ENTRA_KEYS_URL", "").strip()
    if not text:
        return ""
    try:
        url = urlsplit(text)
        host = url.hostname
    except ValueError:
        host = None
    if not host or not (url.scheme == "https" or (url.scheme == "http" and host in _LOOPBACK)):
        raise SettingsError(
            f"PERFBOT_ENTRA_KEYS_URL '{text}' is not an https:// URL (plain http only for a "
            "loopback stand-in of Entra's keys): leave it unset to use Entra's own"
        )
    return text


def _link_secret(env: Mapping[str, str], app_id: str, password: str) -> str:
    text = env.get("PERFBOT_LINK_SECRET", "").strip()
    if text and len(text) < MIN_SECRET:
        raise SettingsError(
            f"PERFBOT_LINK_SECRET is {len(text)} characters: it must be at least {MIN_SECRET} "
            "(for example the output of: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if not text and app_id and not password:
        raise SettingsError(
            "PERFBOT_LINK_SECRET is not set: a bot without a client secret (UserAssignedMSI) "
            f"needs a key of at least {MIN_SECRET} characters to sign report links with"
        )
    return text


def _summary(env: Mapping[str, str], zone: str) -> SummarySchedule:
    """The weekly summary's day, time and cadence (PERFBOT_SUMMARY_*)."""
    defaults = SummarySchedule()
    try:
        weekday = SummarySchedule.parse_day(env.get("PERFBOT_SUMMARY_DAY", "") or "monday")
        at = SummarySchedule.parse_time(env.get("PERFBOT_SUMMARY_TIME", "") or "09:00")
        every = _count(env, "PERFBOT_SUMMARY_EVERY_WEEKS", 1, 13)
        start_text = env.get("PERFBOT_SUMMARY_FROM", "").strip()
        if start_text:
            try:
                start = parse_day(start_text)
            except ValueError as error:
                raise SettingsError(f"PERFBOT_SUMMARY_FROM: {error}") from None
        else:  # the default Monday, moved to the chosen weekday of its week
            start = defaults.start + timedelta(days=weekday)
        return SummarySchedule(weekday, at, every, start, ZoneInfo(zone))
    except ScheduleError as error:
        raise SettingsError(str(error)) from None


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)  # may hold a password
    default_scheme: Scheme = Scheme.STRONG_GOOD_REVIEW_ACTION
    app_id: str = ""
    app_password: Secret = field(default_factory=lambda: Secret(""))
    app_type: str = "MultiTenant"
    app_tenant_id: str = ""
    tenant_setting: str = ""  # PERFBOT_TENANT_ID
    send_window: SendWindow = field(default_factory=SendWindow)
    cadence: Cadence = field(default_factory=Cadence)
    tenant_limits: list[tuple[int, float]] = field(default_factory=lambda: [(50, 1.0)])
    conversation_limits: list[tuple[int, float]] = field(
        default_factory=lambda: [(7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0)]
    )
    claim_lease: float = 120.0
    dispatchers: int = 1
    open_from: date | None = None
    escalate: frozenset[Rating] = Policy.escalate
    acknowledge_within: int = Policy.acknowledge_within
    deep_dive_after: int = Policy.deep_dive_after
    required_questions: frozenset[str] = Policy.required
    summary: SummarySchedule = field(default_factory=SummarySchedule)
    public_url: str = LOCAL_URL
    link_secret: Secret = field(default_factory=lambda: Secret(""))
    link_hours: int = LINK_HOURS
    entra_keys_url: str = ""  # PERFBOT_ENTRA_KEYS_URL; "" for Entra's own (entra_keys)
    # botbuilder's configuration attributes (BOT_FRAMEWORK), for a cloud other than the public one
    bot_framework: dict[str, str] = field(default_factory=dict)

    @property
    def served_tenant(self) -> str:
        """The one Entra tenant whose Teams PerfBot answers (PERFBOT_TENANT_ID, else
        MicrosoftAppTenantId), lower-case; "" for any."""
        return (self.tenant_setting or self.app_tenant_id).lower()

    @property
    def link_key(self) -> str:
        """The key report links are signed with: PERFBOT_LINK_SECRET, else one worked out
        from the client secret (never the secret itself), else (no app id) this process's."""
        if self.link_secret:
            return self.link_secret.reveal()
        if self.app_password:
            return derived_secret(self.app_password.reveal())
        return _LOCAL_KEY

    @property
    def entra_issuer(self) -> str:
        """The issuer of the tenant's Entra v2.0 tokens (the board tab's sign-in)."""
        return f"{ENTRA}/{self.app_tenant_id}/v2.0"

    @property
    def entra_keys(self) -> str:
        """Where the tenant's Entra signing keys are published ("" without a tenant)."""
        if self.entra_keys_url:
            return self.entra_keys_url
        return f"{ENTRA}/{self.app_tenant_id}/discovery/v2.0/keys" if self.app_tenant_id else ""

    @property
    def policy(self) -> Policy:
        return Policy(
            self.default_scheme,
            self.cadence,
            self.open_from,
            self.escalate,
            self.acknowledge_within,
            self.deep_dive_after,
            required=self.required_questions,
        )

    @property
    def timetable(self) -> Timetable:
        return Timetable(self.cadence, self.send_window, self.open_from, self.summary)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        raw_url = env.get("PERFBOT_DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
        try:
            url = database_url(raw_url).render_as_string(hide_password=False)
        except ValueError as error:
            raise SettingsError(f"PERFBOT_DATABASE_URL: {error}") from None
        try:
            scheme = Scheme.parse(
                env.get("PERFBOT_DEFAULT_SCHEME", "") or Scheme.STRONG_GOOD_REVIEW_ACTION
            )
        except RatingError as error:
            raise SettingsError(f"PERFBOT_DEFAULT_SCHEME: {error}") from None
        app_id = env.get("MicrosoftAppId", "").strip().lower()  # Entra writes GUIDs lower-case
        app_type = env.get("MicrosoftAppType", "").strip() or (
            "SingleTenant" if app_id else "MultiTenant"
        )
        if app_type not in ("SingleTenant", "MultiTenant", "UserAssignedMSI"):
            raise SettingsError(
                f"MicrosoftAppType '{app_type}' is not SingleTenant, MultiTenant or UserAssignedMSI"
            )
        tenant = env.get("MicrosoftAppTenantId", "").strip().lower()
        if app_id and app_type == "SingleTenant" and not tenant:
            raise SettingsError(
                "MicrosoftAppTenantId is not set: a SingleTenant bot needs the council's tenant id"
            )
        served = env.get("PERFBOT_TENANT_ID", "").strip().lower()
        if served and tenant and served != tenant:
            raise SettingsError(
                f"PERFBOT_TENANT_ID ({served}) is not MicrosoftAppTenantId ({tenant}): set one "
                "of them, or both to the council's tenant id"
            )
        password = env.get("MicrosoftAppPassword", "")
        if app_id and app_type != "UserAssignedMSI" and not password:
            raise SettingsError(
                "MicrosoftAppPassword is not set: a bot with an app id needs its client secret"
            )
        zone = env.get("PERFBOT_TIMEZONE", "") or "Europe/London"
        try:
            window = SendWindow.parse("always", zone)
        except TimetableError as error:
            raise SettingsError(f"PERFBOT_TIMEZONE: {error}") from None
        try:
            window = SendWindow.parse(env.get("PERFBOT_SEND_HOURS", "") or "08:00-18:00", zone)
        except TimetableError as error:
            raise SettingsError(f"PERFBOT_SEND_HOURS: {error}") from None
        defaults = Cadence()
        try:
            cadence = Cadence(
                _days(env, "PERFBOT_REMINDER_DAYS") or defaults.reminders,
                _days(env, "PERFBOT_CHASER_DAYS") or defaults.chasers,
                (_days(env, "PERFBOT_ESCALATE_AFTER_DAYS") or (defaults.escalate_after,))[0],
            )
        except TimetableError as error:
            raise SettingsError(str(error)) from None
        open_from = None
        if env.get("PERFBOT_OPEN_FROM", "").strip():
            try:
                open_from = parse_day(env["PERFBOT_OPEN_FROM"])
            except ValueError as error:
                raise SettingsError(f"PERFBOT_OPEN_FROM: {error}") from None
        return cls(
            public_url=_public_url(env, bool(app_id)),
            link_secret=Secret(_link_secret(env, app_id, password)),
            link_hours=_count(env, "PERFBOT_LINK_HOURS", LINK_HOURS, MAX_LINK_HOURS),
            summary=_summary(env, zone),
            open_from=open_from,
            escalate=_ratings(env, "PERFBOT_ESCALATE_RATINGS"),
            acknowledge_within=_count(env, "PERFBOT_ACKNOWLEDGE_DAYS", 3, 20),
            deep_dive_after=_count(env, "PERFBOT_DEEP_DIVE_PERIODS", 2, 12),
            required_questions=_required(env, "PERFBOT_REQUIRED_QUESTIONS"),
            database_url=url,
            send_window=window,
            cadence=cadence,
            tenant_limits=_rates(
                env.get("PERFBOT_TENANT_RATE", "") or "50/1", "PERFBOT_TENANT_RATE"
            ),
            claim_lease=_seconds(env, "PERFBOT_CLAIM_LEASE_SECONDS", 120.0),
            dispatchers=_count(env, "PERFBOT_DISPATCHERS", 1, MAX_DISPATCHERS),
            conversation_limits=_rates(
                env.get("PERFBOT_CONVERSATION_RATES", "") or "7/1,8/2,60/30,1800/3600",
                "PERFBOT_CONVERSATION_RATES",
            ),
            default_scheme=scheme,
            app_id=app_id,
            app_password=Secret(password),
            app_type=app_type,
            app_tenant_id=tenant,
            tenant_setting=served,
            bot_framework=_bot_framework(env, app_id),
            entra_keys_url=_entra_keys_url(env),
        )

    @property
    def authenticated(self) -> bool:
        return bool(self.app_id)
