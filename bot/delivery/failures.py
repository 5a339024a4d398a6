"""What a failed send means: retry it (429 with Retry-After, 412, 502, 503, 504, a timeout)
or give up for good (a 403 blocked or uninstalled, a 404 ConversationNotFound)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

RETRYABLE = {408, 412, 429, 500, 502, 503, 504}
PERMANENT = {403, 404}


@dataclass(frozen=True)
class SendFailure(Exception):
    status: int | None
    code: str
    retry_after: float | None = None

    @property
    def permanent(self) -> bool:
        return self.status in PERMANENT

    def __str__(self) -> str:
        return f"{self.status or 'no answer'} {self.code}".strip()


def classify(error: BaseException) -> SendFailure:
    """What a failed send means, from botbuilder's exception (which carries the HTTP response)."""
    if isinstance(error, SendFailure):
        return error
    if isinstance(error, asyncio.TimeoutError | TimeoutError):
        return SendFailure(None, "timeout")
    response: Any = getattr(error, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    if status is None:
        return SendFailure(None, type(error).__name__)
    headers = getattr(response, "headers", {}) or {}
    retry_after = None
    try:
        retry_after = float(headers["Retry-After"]) if headers.get("Retry-After") else None
    except (TypeError, ValueError):
        retry_after = None
    code = ""
    inner = getattr(getattr(error, "error", None), "error", None)
    if inner is not None and getattr(inner, "code", None):
        code = str(inner.code)
    else:
        try:
            body = response.json()
            code = str((body.get("error") or {}).get("code") or body.get("message") or "")[:120]
        except Exception:  # a body that is not JSON says nothing more
            code = ""
    return SendFailure(int(status), code, retry_after)
