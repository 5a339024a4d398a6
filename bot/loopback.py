"""A loopback Bot Connector: an aiohttp server speaking the v3 REST calls PerfBot makes
(send, reply, update, create conversation, get member), recording each one. It stands in for
Microsoft's cloud, which tests cannot reach; it can also answer with faults (429, 503)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Call:
    method: str
    path: str
    conversation_id: str
    activity_id: str | None
    body: Any
    authorization: str | None = None  # the bot's bearer token, when it sent one
    status: int = 200  # what it was answered: a fault's status, if one was given
    host: str = ""  # the host the call named (a proxy is sent another host's calls)


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)


class LoopbackConnector:
    """Start with ``await connector.start()``; its ``url`` is the serviceUrl to put on activities."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.members: dict[str, dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.update_faults: list[Fault] = []  # for updates (PUT) only, before ``faults``
        self.delay = 0.0  # seconds to wait before answering a send (to test timeouts)
        self.arrived = asyncio.Event()  # a send has reached it, answered or not yet
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.extra_routes: list[web.RouteDef] = []  # a benchmark's own, e.g. its counts
        self.changed = asyncio.Event()

    def add_member(self, user_id: str, name: str, email: str, aad_object_id: str) -> None:
        self.members[user_id] = {
            "id": user_id,
            "name": name,
            "aadObjectId": aad_object_id,
            "email": email,
            "userPrincipalName": email,
            "givenName": name.split()[0],
            "surname": name.split()[-1],
            "tenantId": "tenant-1",
            "userRole": "user",
        }

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)
        app.router.add_get("/v3/conversations/{cid}/members/{mid}", self._member)
        app.add_routes(self.extra_routes)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # aiohttp keeps it private
        self.url = f"http://127.0.0.1:{port}/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _record(self, request: web.Request, body: Any) -> web.Response | None:
        self.calls.append(
            Call(
                request.method,
                request.path,
                request.match_info.get("cid", ""),
                request.match_info.get("aid"),
                body,
                request.headers.get("Authorization"),
                host=request.host,
            )
        )
        self.changed.set()
        if self.faults:
            fault = self.faults.pop(0)
            self.calls[-1].status = fault.status
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        return None

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.arrived.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        fault = self._record(request, body)
        return fault or web.json_response({"id": f"activity-{next(self._ids)}"})

    async def _update(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.update_faults:
            self.faults.insert(0, self.update_faults.pop(0))
        fault = self._record(request, body)
        return fault or web.json_response({"id": request.match_info["aid"]})

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        fault = self._record(request, body)
        n = next(self._ids)
        return fault or web.json_response(
            {"id": f"a:created-{n}", "activityId": f"activity-{n}"}, status=201
        )

    async def _member(self, request: web.Request) -> web.Response:
        fault = self._record(request, None)
        if fault:
            return fault
        member = self.members.get(request.match_info["mid"])
        if member is None:
            return web.json_response(
                {"error": {"code": "MemberNotFoundInConversation", "message": "not found"}},
                status=404,
            )
        return web.json_response(member)

    # ---- what tests read -------------------------------------------------------------

    def sent(self) -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and "/activities" in c.path]

    def delivered(self) -> list[Call]:
        """The sends (posts) it took: those not answered with a fault."""
        return [c for c in self.sent() if c.status < 400]

    def updates(self) -> list[Call]:
        return [c for c in self.calls if c.method == "PUT"]

    def cards(self, calls: list[Call] | None = None) -> list[dict[str, Any]]:
        found = []
        for call in self.sent() if calls is None else calls:
            for attachment in call.body.get("attachments") or []:
                if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                    found.append(attachment["content"])
        return found

    def texts(self) -> list[str]:
        return [c.body.get("text") for c in self.sent() if c.body.get("text")]

    def clear(self) -> None:
        self.calls.clear()
        self.arrived.clear()


def elements(card: Any) -> Iterator[dict[str, Any]]:
    """Every object in a card, the card itself first, depth first (for assertions)."""
    if isinstance(card, dict):
        yield card
        for value in card.values():
            yield from elements(value)
    elif isinstance(card, list):
        for item in card:
            yield from elements(item)


def card_text(card: dict[str, Any]) -> str:
    """All the text a person would read on a card, in order, for assertions."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "title", "value", "placeholder"):
                if isinstance(node.get(key), str):
                    parts.append(node[key])
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return "\n".join(parts)
