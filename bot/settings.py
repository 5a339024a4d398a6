"""Settings: one frozen object built once from the environment and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.db import DEFAULT_DATABASE_URL, database_url
from domain.ratings import RatingError, Scheme


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


# Every environment variable PerfBot reads; the README's configuration table matches this.
ENVIRONMENT = {
    "PERFBOT_DATABASE_URL": f"database URL (default {DEFAULT_DATABASE_URL.replace('+aiosqlite', '')})",
    "PERFBOT_DEFAULT_SCHEME": "the council's rating scheme: strong-good-review-action (default) or rag",
    "MicrosoftAppId": "the bot's Azure app id; unset for local use with the Agents Playground",
    "MicrosoftAppPassword": "the app's client secret",
    "MicrosoftAppType": "SingleTenant (default when an app id is set), MultiTenant or UserAssignedMSI",
    "MicrosoftAppTenantId": "the council's Entra tenant id (SingleTenant)",
}


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)  # may hold a password
    default_scheme: Scheme = Scheme.STRONG_GOOD_REVIEW_ACTION
    app_id: str = ""
    app_password: Secret = field(default_factory=lambda: Secret(""))
    app_type: str = "MultiTenant"
    app_tenant_id: str = ""

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
        app_id = env.get("MicrosoftAppId", "").strip()
        app_type = env.get("MicrosoftAppType", "").strip() or (
            "SingleTenant" if app_id else "MultiTenant"
        )
        if app_type not in ("SingleTenant", "MultiTenant", "UserAssignedMSI"):
            raise SettingsError(
                f"MicrosoftAppType '{app_type}' is not SingleTenant, MultiTenant or UserAssignedMSI"
            )
        tenant = env.get("MicrosoftAppTenantId", "").strip()
        if app_id and app_type == "SingleTenant" and not tenant:
            raise SettingsError(
                "MicrosoftAppTenantId is not set: a SingleTenant bot needs the council's tenant id"
            )
        password = env.get("MicrosoftAppPassword", "")
        if app_id and app_type != "UserAssignedMSI" and not password:
            raise SettingsError(
                "MicrosoftAppPassword is not set: a bot with an app id needs its client secret"
            )
        return cls(
            database_url=url,
            default_scheme=scheme,
            app_id=app_id,
            app_password=Secret(password),
            app_type=app_type,
            app_tenant_id=tenant,
        )

    @property
    def authenticated(self) -> bool:
        return bool(self.app_id)
