"""The messaging endpoint's edges: authentication, bad bodies, the health check."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.app import SESSIONS, create_app
from bot.settings import Secret, Settings, SettingsError
from domain import db
from domain.model import AuditEntry, ConversationRef
from tests.bot.conftest import AMINA, NOW, Teams

SECURED = Settings(
    app_id="00000000-0000-0000-0000-0000000000aa",
    app_password=Secret("not-a-real-secret"),
    app_type="SingleTenant",
    app_tenant_id="11111111-0000-0000-0000-000000000000",
)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer garbage",
        "Basic dXNlcjpwYXNz",
        # well formed, but signed by nobody Microsoft knows
        "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJhdWQiOiJ4In0.c2ln",
    ],
)
async def test_with_an_app_id_a_request_without_a_valid_token_gets_401_and_changes_nothing(
    aiohttp_client, council_engine, connector, authorization
):
    client = await aiohttp_client(create_app(SECURED, engine=council_engine, clock=lambda: NOW))
    teams = Teams(client, connector)
    headers = {"Authorization": authorization} if authorization else {}
    install = teams.activity(AMINA, "installationUpdate", action="add")
    assert await teams.post(install, headers) == 401
    assert await teams.post(teams.activity(AMINA, text="my measures"), headers) == 401
    assert connector.calls == []
    async with client.app[SESSIONS]() as session:
        assert await session.scalar(select(func.count()).select_from(ConversationRef)) == 0
        assert (
            await session.scalar(select(func.count()).select_from(AuditEntry)) > 0
        )  # the sample's


async def test_bad_bodies_get_4xx_not_500(teams):
    client = teams.client
    response = await client.post(
        "/api/messages", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    response = await client.post("/api/messages", json=["an", "array"])
    assert response.status == 400
    response = await client.post(
        "/api/messages", data=b"hi", headers={"Content-Type": "text/plain"}
    )
    assert response.status == 415
    response = await client.get("/api/messages")
    assert response.status == 405


async def test_health_reports_the_database(teams):
    response = await teams.client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {
        "status": "ok",
        "database": "reachable",
        "schema": db.head_revision(),
    }


async def test_health_says_when_the_database_is_unreachable(aiohttp_client):
    engine = db.create_engine("postgresql://nobody@127.0.0.1:1/none")
    client = await aiohttp_client(create_app(Settings(), engine=engine))
    response = await client.get("/healthz")
    assert response.status == 503
    assert await response.json() == {"status": "unavailable", "database": "unreachable"}
    await engine.dispose()


def test_settings_refuse_half_configured_credentials_and_keep_secrets_out_of_logs():
    with pytest.raises(SettingsError, match="MicrosoftAppPassword is not set"):
        Settings.from_env({"MicrosoftAppId": "x", "MicrosoftAppTenantId": "t"})
    with pytest.raises(SettingsError, match="MicrosoftAppTenantId is not set"):
        Settings.from_env({"MicrosoftAppId": "x", "MicrosoftAppPassword": "p"})
    settings = Settings.from_env(
        {
            "MicrosoftAppId": "x",
            "MicrosoftAppPassword": "hunter2",
            "MicrosoftAppTenantId": "t",
            "PERFBOT_PUBLIC_URL": "https://perfbot.kingsmere.gov.uk",
            "PERFBOT_DATABASE_URL": "postgresql://perfbot:s3cret@db/perfbot",
        }
    )
    assert "hunter2" not in repr(settings)
    assert "s3cret" not in repr(settings)
    assert settings.app_type == "SingleTenant"
