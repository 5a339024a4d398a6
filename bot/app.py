"""The aiohttp application: Teams' messaging endpoint, a health check, and their wiring."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.core.serializer_helper import serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import edge
from bot.connector import MetadataUnavailable, read_model
from bot.delivery import Dispatcher
from bot.references import References
from bot.sealing import make_adapter
from bot.settings import Settings
from bot.supervision import keep_running
from bot.tab import tab_routes
from bot.teams.bot import Clock, PerfBot, utc_now
from bot.teams.replies import Replies, ReplyRetry
from bot.web import ROUTE, Pages, hide_links_in_access_log, report_route
from domain import db
from domain.uow import UnitOfWork

log = logging.getLogger("perfbot")

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
ADAPTER = web.AppKey("adapter", CloudAdapter)
BOT = web.AppKey("bot", PerfBot)
REFERENCES = web.AppKey("references", References)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
# Set as the server begins to stop (bot/teams/replies.py: replies then go to the outbox).
STOPPING = web.AppKey("stopping", asyncio.Event)

JOBS_FINISH_SECONDS = 5.0  # how long a stopping server waits for the scheduled jobs under way


def _quicken_msrest() -> None:
    """botbuilder's Teams client (used to look up a member the first time someone writes)
    still sends through msrest's requests transport, which builds a list of 999 retry codes
    for every client by testing each against a 500-item *list*: about 7 ms of CPU. The same
    codes in a frozenset give the same list in microseconds; behaviour is unchanged
    (``safe_codes`` is only ever used for membership tests)."""
    from msrest.universal_http.requests import ClientRetryPolicy

    if not isinstance(ClientRetryPolicy.safe_codes, frozenset):
        # msrest declares a list; every use of it is ``in``, which a frozenset answers the same.
        ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)  # type: ignore[assignment]


_quicken_msrest()


def create_app(
    settings: Settings,
    engine: AsyncEngine | None = None,
    clock: Clock = utc_now,
    background: bool = False,
    shard_command: Sequence[str] = (),
    reply_retry: ReplyRetry | None = None,
) -> web.Application:
    """The one factory. Pass an engine to share one (tests); otherwise one is made and closed.
    The clock is injectable so that tests and operators can run PerfBot at a given time, and
    so is how long a turn keeps trying its replies (``reply_retry``, bot/teams/replies.py).
    With ``background`` the scheduler and the dispatcher run too (as `perfbot serve` does);
    with PERFBOT_DISPATCHERS above 1, ``shard_command`` (given ``--shard K/N``) runs each other
    dispatcher in a process of its own."""
    app = web.Application(middlewares=[_no_stack_traces], client_max_size=edge.MAX_BODY)
    app[SETTINGS] = settings
    app[STOPPING] = asyncio.Event()

    async def database(app: web.Application) -> AsyncIterator[None]:
        own = engine is None
        app[ENGINE] = engine if engine is not None else db.create_engine(settings.database_url)
        app[SESSIONS] = db.session_factory(app[ENGINE])
        uow = UnitOfWork(app[SESSIONS])
        adapter, authentication, keys = make_adapter(settings, uow, clock)
        adapter.on_turn_error = _on_turn_error
        app[ADAPTER] = adapter
        app[REFERENCES] = References(uow, clock)
        app[BOT] = PerfBot(
            settings, app[SESSIONS], clock, app[REFERENCES], reply_retry, keys, app[STOPPING]
        )
        yield
        await authentication.close()
        if own:
            await app[ENGINE].dispose()

    app.cleanup_ctx.append(database)
    app.on_shutdown.append(_stopping)
    if background:
        app.cleanup_ctx.append(_background(clock, list(shard_command)))
    if not settings.authenticated:
        log.warning(
            "MicrosoftAppId is not set: accepting unauthenticated requests on /api/messages. "
            "This is right for the local Agents Playground and wrong for a real tenant."
        )
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    pages = Pages(settings, lambda: app[SESSIONS], clock)
    for method, path, handler in tab_routes(pages):  # before ROUTE, which would take them
        app.router.add_route(method, path, handler)
    app.router.add_get(ROUTE, report_route(pages))
    hide_links_in_access_log()
    edge.quiet_unreadable_encodings()
    return app


async def _stopping(app: web.Application) -> None:
    """The server has stopped listening and is about to wait for the turns under way: each
    of them hands a reply Teams has not taken to the outbox now, instead of trying it again
    after the Bot Connector's session is closed (the next start sends it)."""
    app[STOPPING].set()


def _background(
    clock: Clock, shard_command: list[str]
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def run(app: web.Application) -> AsyncIterator[None]:
        from scheduler.jobs import JobContext
        from scheduler.timetable import build_scheduler

        settings = app[SETTINGS]
        shards = settings.dispatchers if shard_command else 1
        dispatcher = Dispatcher(
            settings,
            app[SESSIONS],
            app[ADAPTER],
            clock,
            shard=(0, shards),
            references=app[REFERENCES],
        )
        app[DISPATCHER] = dispatcher
        app[REFERENCES].queued_again = dispatcher.wake.set  # someone installed: send at once
        stopping = asyncio.Event()
        others = [
            asyncio.create_task(
                keep_running([*shard_command, "--shard", f"{k + 1}/{shards}"], stopping),
                name=f"dispatcher {k + 1}/{shards}",
            )
            for k in range(1, shards)
        ]

        async def queued() -> None:
            dispatcher.wake.set()

        context = JobContext(UnitOfWork(app[SESSIONS]), settings.timetable, settings.policy)
        running: set[asyncio.Task[None]] = set()
        scheduler = build_scheduler(context, clock, queued, running)
        scheduler.start()  # needs the running loop, which cleanup_ctx has
        task = asyncio.create_task(dispatcher.run(), name="dispatcher")
        log.info("scheduler and dispatcher started")
        yield
        # The jobs under way finish first (a job cut off inside its transaction can leave
        # SQLite's write lock to the next, and the server would never stop); one that takes
        # longer than JOBS_FINISH_SECONDS is cancelled, rolling back what it had not committed.
        scheduler.pause()
        if running:
            await asyncio.wait(set(running), timeout=JOBS_FINISH_SECONDS)
        scheduler.shutdown(wait=False)
        # Let the sends in flight finish and be marked sent, so a restart repeats none; a
        # send that hangs is cut off after its own timeout.
        dispatcher.stop()
        stopping.set()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(task, dispatcher.send_timeout + 1)
        await asyncio.gather(*others)

    return run


async def messages(request: web.Request) -> web.StreamResponse:
    """Teams' messaging endpoint. The guard at the edge (bot/edge.py) reads the body within
    its limits (413 beyond them, 415 for the wrong type or coding, 400 for a body that is not
    a JSON object). Then authentication, and any failure of it (no token, a malformed one,
    one that does not verify, or one that does not vouch for the activity's serviceUrl) is a
    401 that changes nothing; when the signing keys cannot be fetched to check it with, a
    503 that changes nothing. Then the guard checks the activity's fields: anything but a
    well-formed activity of the shapes PerfBot handles is a 400 that changes nothing. An
    invoke PerfBot does not handle is answered 200 with an empty body."""
    try:
        body = await edge.read_json(request)
    except edge.Refusal as refusal:
        return await _refused(request, refusal)
    adapter = request.app[ADAPTER]
    settings = request.app[SETTINGS]
    credentials = edge.to_authenticate(body)
    try:
        authenticated = await adapter.bot_framework_authentication.authenticate_request(
            credentials, request.headers.get("Authorization", "")
        )
        edge.check_vouched_service_url(
            settings.authenticated, authenticated.claims_identity.claims, credentials.service_url
        )
    except MetadataUnavailable as error:  # no keys to check any token with: not the caller's fault
        log.error("could not check a request's credentials: %s", error)
        raise web.HTTPServiceUnavailable(
            text="PerfBot cannot check credentials just now; try again in a minute",
            headers={"Retry-After": "30"},
        ) from None
    except Exception as error:  # PyJWT, msal and botbuilder raise many kinds for a bad token
        log.warning("refused an unauthenticated request: %s", type(error).__name__)
        raise web.HTTPUnauthorized(text="missing or invalid credentials") from None
    try:
        edge.check_activity(body)
    except edge.Refusal as refusal:
        return await _refused(request, refusal)
    activity = read_model(Activity, body)
    bot = request.app[BOT]
    if activity.type == "invoke" and not edge.handles_invoke(bot, body):
        log.info("answered an invoke PerfBot does not handle: %r", (activity.name or "")[:64])
        return web.Response(status=200)
    invoke_response = await adapter.process_activity(authenticated, activity, bot.on_turn)
    if invoke_response:
        return web.json_response(
            data=serializer_helper(invoke_response.body), status=invoke_response.status
        )
    return web.Response(status=201)


async def _refused(request: web.Request, refusal: edge.Refusal) -> web.StreamResponse:
    log.warning("refused a request to /api/messages (%d): %s", refusal.status, refusal.reason)
    return await refusal.answer(request)


async def healthz(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        revision = await db.current_revision(engine)
    except Exception as error:  # any failure to reach the database is "unavailable"
        log.warning("health check: database unreachable: %s", error)
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    current = revision == db.head_revision()
    body: dict[str, Any] = {
        "status": "ok" if current else "degraded",
        "database": "reachable",
        "schema": revision,
    }
    if not current:
        body["advice"] = "run `perfbot db upgrade`"
    return web.json_response(body, status=200 if current else 503)


@web.middleware
async def _no_stack_traces(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except PermissionError:
        raise web.HTTPUnauthorized(text="missing or invalid credentials") from None
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "PerfBot could not handle this request"}, status=500)


async def _on_turn_error(context: TurnContext, error: Exception) -> None:
    log.error("error while handling a %s activity", context.activity.type, exc_info=error)
    await Replies.of(context).say(
        "Sorry, something went wrong on PerfBot's side. Type my measures to see what has been "
        "saved, and try again in a minute; if it keeps happening, tell the performance team."
    )
