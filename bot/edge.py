"""The guard at the edge of /api/messages: a body that is not a well-formed activity of the
shapes PerfBot handles is refused before anything is done with it.

Teams (and the Agents Playground) send well-formed activities; anything else comes from a
careless client or an attacker, and must never become a server error, a crashed turn (the
person told "something went wrong"), a stored value that should not be, or a call out to an
address the activity chose. So before botbuilder reads the body, and before any token is
checked or any turn runs, the guard reads it within a size limit (``MAX_BODY``, the app's
``client_max_size``: 413 beyond it, compressed or not) and a depth limit (``MAX_DEPTH``),
and checks the type of every field PerfBot or botbuilder reads. A refusal is a ``Refusal``:
a status (400, 413 or 415) and one plain sentence for the caller naming the field, which the
endpoint sends back and logs once as a warning; the body itself is never logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import botbuilder.schema
import botbuilder.schema.teams
from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import Activity, ChannelAccount
from botbuilder.schema.teams import TeamsChannelData
from msrest.serialization import Deserializer, Model
from yarl import URL

MAX_BODY = 1024 * 1024  # bytes, once decompressed: Teams' own messages are about 100 KB at most
MAX_DEPTH = 32  # levels of objects and lists, the activity itself the first
MAX_ID = 255  # what the database keeps of a conversation, user, team, channel or activity id
MAX_TENANT_ID = 64  # and of an Entra tenant or object id
MAX_URL = 2048

# The conversation types Teams has: a personal chat, a group chat, a team's channel.
CONVERSATION_TYPES = frozenset({"personal", "groupChat", "channel"})
# The activities PerfBot acts on, which must say who sent them and to whom.
FROM_SOMEONE = frozenset({"message", "invoke", "conversationUpdate", "installationUpdate"})
# Content codings aiohttp reads (brotli only with its optional package, which PerfBot lacks).
READABLE_CODINGS = frozenset({"", "identity", "gzip", "x-gzip", "deflate"})

_MODELS: dict[str, type[Model]] = {
    name: kind
    for module in (botbuilder.schema, botbuilder.schema.teams)
    for name, kind in vars(module).items()
    if isinstance(kind, type) and issubclass(kind, Model)
}


class Refusal(Exception):
    """A request refused at the edge: its status and what the caller is told."""

    def __init__(self, status: int, reason: str, unread: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.unread = unread  # the body was not read to its end

    async def answer(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(status=self.status, text=self.reason)
        if self.unread:
            # aiohttp would otherwise go on reading (and decompressing) what is left of the
            # body after the answer, and log its error as unhandled: the answer is sent and
            # the connection ended instead.
            response.force_close()
            await response.prepare(request)
            await response.write_eof()
            request.protocol.force_close()
        return response


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's body as a JSON object, read within the limits; a ``Refusal`` for
    anything else. Its fields are checked by ``check_activity``, once its token is."""
    if "application/json" not in request.headers.get("Content-Type", ""):
        raise Refusal(415, "PerfBot expects a Bot Framework activity as application/json")
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    if coding not in READABLE_CODINGS:
        raise Refusal(415, "the body's Content-Encoding must be gzip, deflate or none")
    too_large = Refusal(413, f"the body must be at most {MAX_BODY} bytes", unread=True)
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise too_large
    try:
        raw = await request.read()  # within the app's client_max_size, MAX_BODY
    except web.HTTPRequestEntityTooLarge:
        raise too_large from None
    except Exception:  # aiohttp's errors for a body that is not the coding it claims
        raise Refusal(
            400, "the body could not be read as its Content-Encoding says", unread=True
        ) from None
    return parse(raw)


def parse(raw: bytes) -> dict[str, Any]:
    """JSON in UTF-8, no deeper than ``MAX_DEPTH``, an object; a ``Refusal`` otherwise."""
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except RecursionError:  # deeper than the decoder's own stack: far beyond the limit
        raise Refusal(400, f"the JSON is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError:
        raise Refusal(400, "the body is not valid JSON in UTF-8") from None
    if _deeper_than(body, MAX_DEPTH):
        raise Refusal(400, f"the JSON is nested more than {MAX_DEPTH} levels deep")
    if not isinstance(body, dict):
        raise Refusal(400, "the body must be a JSON object: a Bot Framework activity")
    return body


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and lists nest more than ``limit`` levels (without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def check_activity(body: dict[str, Any]) -> None:
    """Every field PerfBot or botbuilder reads has the type they read it as: a ``Refusal``
    (400) naming the first that does not."""
    kind = body.get("type")
    if not isinstance(kind, str) or not kind or len(kind) > 64:
        raise Refusal(400, "`type` must be the activity's type, such as message")
    check_service_url(body.get("serviceUrl"))
    _check_model(body, Activity, "")
    for name in ("id", "replyToId"):
        _check_id(body.get(name), name, required=False)
    conversation = body.get("conversation")
    if not isinstance(conversation, dict) or not _an_id(conversation.get("id")):
        raise Refusal(400, "`conversation` must be an object with an id")
    _check_id(conversation["id"], "conversation.id")
    conversation_type = conversation.get("conversationType")
    if conversation_type is not None and conversation_type not in CONVERSATION_TYPES:
        raise Refusal(400, "`conversation.conversationType` must be personal, groupChat or channel")
    for key in ("tenantId", "tenantID", "aadObjectId"):
        _check_id(conversation.get(key), f"conversation.{key}", required=False, most=MAX_TENANT_ID)
    for name in ("from", "recipient"):
        account = body.get(name)
        if account is None and kind not in FROM_SOMEONE:
            continue  # a typing indicator, say: PerfBot reads nobody from it
        _check_account(account, name)
    for name in ("membersAdded", "membersRemoved"):
        for n, member in enumerate(body.get(name) or []):
            _check_account(member, f"{name}[{n}]")
    value = body.get("value")
    if value is not None and not isinstance(value, dict):
        raise Refusal(400, "`value` must be an object (a card's inputs) or left out")
    _check_channel_data(body.get("channelData"))
    mode = body.get("deliveryMode")
    if mode is not None and mode not in ("normal", "notification"):
        raise Refusal(400, "`deliveryMode` must be normal: PerfBot sends its replies itself")


def check_service_url(url: Any) -> None:
    """A Bot Connector PerfBot may call: an http(s) address with a host, no credentials, no
    query or fragment; never left out (botbuilder would fall back to Microsoft's public host)."""
    refusal = Refusal(400, "`serviceUrl` must be the http(s) address of the Bot Connector")
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise refusal
    if not url.isascii() or not url.isprintable() or any(c.isspace() for c in url):
        raise refusal
    try:
        parsed = URL(url)
        port = parsed.port
    except ValueError:
        raise refusal from None
    if (
        parsed.scheme not in ("http", "https")
        or not parsed.host
        or port is None
        or not 0 < port < 65536
        or parsed.user is not None
        or parsed.password is not None
        or parsed.query_string
        or parsed.fragment
    ):
        raise refusal


def _check_account(account: Any, name: str) -> None:
    if not isinstance(account, dict) or not _an_id(account.get("id")):
        raise Refusal(400, f"`{name}` must be an object with an id")
    _check_id(account["id"], f"{name}.id")
    _check_id(account.get("aadObjectId"), f"{name}.aadObjectId", False, MAX_TENANT_ID)


def _check_channel_data(data: Any) -> None:
    if data is None:
        return
    _check_model(data, TeamsChannelData, "channelData")
    for name, most in (("tenant", MAX_TENANT_ID), ("team", MAX_ID), ("channel", MAX_ID)):
        part = data.get(name)
        if part is not None:
            _check_id(part.get("id"), f"channelData.{name}.id", False, most)


def _an_id(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _check_id(value: Any, name: str, required: bool = True, most: int = MAX_ID) -> None:
    """An id PerfBot may store and send back: printable text of at most ``most`` characters
    (no control characters, no lone surrogates, which a database cannot hold)."""
    if value is None and not required:
        return
    if not isinstance(value, str) or not value or len(value) > most or not value.isprintable():
        raise Refusal(400, f"`{name}` must be an id of at most {most} printable characters")


def _check_model(data: Any, model: type[Model], path: str) -> None:
    """``data`` has the types botbuilder's ``model`` reads each of its known keys as (unknown
    keys botbuilder keeps as they are, and so do these checks)."""
    if not isinstance(data, dict):
        raise Refusal(400, f"`{path}` must be an object")
    for key, (kind, value) in _known(data, model):
        where = f"{path}.{key}" if path else key
        _check_kind(value, kind, where)


def _known(data: dict[str, Any], model: type[Model]) -> Iterator[tuple[str, tuple[str, Any]]]:
    for attribute in model._attribute_map.values():
        key = attribute["key"]
        value = data.get(key)
        if value is not None:
            yield key, (attribute["type"], value)


def _check_kind(value: Any, kind: str, where: str) -> None:
    if kind.startswith("["):
        if not isinstance(value, list):
            raise Refusal(400, f"`{where}` must be a list")
        for n, item in enumerate(value):
            if item is None:
                raise Refusal(400, f"`{where}[{n}]` must not be null")
            _check_kind(item, kind[1:-1], f"{where}[{n}]")
    elif kind.startswith("{"):
        if not isinstance(value, dict):
            raise Refusal(400, f"`{where}` must be an object")
        for item in value.values():  # its keys are the caller's: never named in the log
            if item is not None:
                _check_kind(item, kind[1:-1], f"{where}.*")
    elif kind == "str":
        if not isinstance(value, str):
            raise Refusal(400, f"`{where}` must be a string")
    elif kind in _MODELS:
        if not isinstance(value, dict):
            raise Refusal(400, f"`{where}` must be an object")
        _check_model(value, _MODELS[kind], where)
    elif kind != "object" and not _readable(value, kind):  # "object" is any JSON
        what = _KINDS.get(kind, f"a value of type {kind}")
        raise Refusal(400, f"`{where}` must be {what}")


_KINDS = {
    "bool": "true or false",
    "int": "a whole number",
    "long": "a whole number",
    "float": "a number",
    "iso-8601": "a date and time in ISO 8601",
}
_READER = Deserializer(_MODELS)  # type: ignore[no-untyped-call]  # msrest is untyped


def _readable(value: Any, kind: str) -> bool:
    """Whether msrest reads the value as ``kind`` (a number, a date and time): botbuilder
    reads it so, and what it cannot read would be a server error."""
    try:
        _READER.deserialize_data(value, kind)  # type: ignore[no-untyped-call]  # msrest is untyped
    except Exception:  # msrest's DeserializationError, whatever it wraps
        return False
    return True


# ---- the token ------------------------------------------------------------------------------


def to_authenticate(body: dict[str, Any]) -> Activity:
    """What botbuilder's token check reads of an activity (its channel, its service URL and
    its recipient's role), each taken from the body only where it is a string. The token is
    checked before the rest of the body is looked at, so that with an app id a request
    without a valid token is a 401 whatever its body, and nothing of it is processed."""
    recipient = body.get("recipient")
    role = _text(recipient.get("role")) if isinstance(recipient, dict) else None
    return Activity(
        channel_id=_text(body.get("channelId")),
        service_url=_text(body.get("serviceUrl")),
        recipient=ChannelAccount(role=role),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def check_vouched_service_url(authenticated: bool, claims: dict[str, Any], url: str) -> None:
    """With an app id, the service URL PerfBot will call is the one the token vouches for.
    botbuilder checks a channel token's ``serviceurl`` claim against the activity's; a token
    of another kind (the Emulator's, a skill's) has no such claim and is checked against
    nothing, so here it is refused too: Teams always sends channel tokens."""
    if authenticated and claims.get("serviceurl") != url:
        raise PermissionError("the token does not vouch for the activity's serviceUrl")


# Each invoke name and the handler methods botbuilder's TeamsActivityHandler calls for it
# ("" for an invoke with no name, which Teams sends for an old card's action).
INVOKE_HANDLERS: dict[str, tuple[str, ...]] = {
    "": ("on_teams_card_action_invoke",),
    "adaptiveCard/action": ("on_adaptive_card_invoke",),
    "signin/verifyState": ("on_teams_signin_verify_state", "on_sign_in_invoke"),
    "signin/tokenExchange": ("on_teams_signin_token_exchange",),
    "fileConsent/invoke": (
        "on_teams_file_consent",
        "on_teams_file_consent_accept",
        "on_teams_file_consent_decline",
    ),
    "actionableMessage/executeAction": ("on_teams_o365_connector_card_action",),
    "composeExtension/queryLink": ("on_teams_app_based_link_query",),
    "composeExtension/anonymousQueryLink": ("on_teams_anonymous_app_based_link_query",),
    "composeExtension/query": ("on_teams_messaging_extension_query",),
    "composeExtension/selectItem": ("on_teams_messaging_extension_select_item",),
    "composeExtension/submitAction": (
        "on_teams_messaging_extension_submit_action_dispatch",
        "on_teams_messaging_extension_submit_action",
        "on_teams_messaging_extension_bot_message_preview_edit",
        "on_teams_messaging_extension_bot_message_preview_send",
    ),
    "composeExtension/fetchTask": ("on_teams_messaging_extension_fetch_task",),
    "composeExtension/querySettingUrl": (
        "on_teams_messaging_extension_configuration_query_settings_url",
    ),
    "composeExtension/setting": ("on_teams_messaging_extension_configuration_setting",),
    "composeExtension/onCardButtonClicked": ("on_teams_messaging_extension_card_button_clicked",),
    "task/fetch": ("on_teams_task_module_fetch",),
    "task/submit": ("on_teams_task_module_submit",),
    "tab/fetch": ("on_teams_tab_fetch",),
    "tab/submit": ("on_teams_tab_submit",),
    "config/fetch": ("on_teams_config_fetch",),
    "config/submit": ("on_teams_config_submit",),
}


def handles_invoke(bot: Any, body: dict[str, Any]) -> bool:
    """Whether PerfBot's handler answers this invoke itself (it overrides one of botbuilder's
    handlers for the name). One it does not is answered 200 with an empty body and no turn:
    botbuilder would answer 501, which Teams shows as a failure, after reading the invoke's
    value into its own models (a crashed turn when the value is malformed)."""
    name = body.get("name") or ""
    handlers = INVOKE_HANDLERS.get(name, ())
    return any(
        getattr(type(bot), handler, None) is not getattr(TeamsActivityHandler, handler, None)
        for handler in handlers
    )


class UnreadableEncodingLine(logging.Filter):
    """aiohttp itself answers a body in an encoding it cannot read (brotli or zstandard,
    whose packages PerfBot does not install) with 400 before PerfBot sees the request, and
    logs it as an error with its traceback: here it is one warning line, as every other
    refusal at the edge."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ContentEncodingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = "refused a request to /api/messages (400): %s", (error,)
            record.exc_info = record.exc_text = None
        return True


def quiet_unreadable_encodings() -> None:
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, UnreadableEncodingLine) for f in server.filters):
        server.addFilter(UnreadableEncodingLine())
