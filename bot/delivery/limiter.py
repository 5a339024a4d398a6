"""Teams' rate limits, kept on our side: about 50 sends a second per tenant, and per
conversation 7 a second, 8 per 2 s, 60 per 30 s and 1,800 an hour (DESIGN.md).

Teams counts a message when it arrives, which is some time after the limiter said yes: the
worker has still to build the turn and the request, and on a busy machine the process can
be starved for tens of milliseconds in between; the connector's own clock may see the
message later still. So a send is let through twice: ``acquire`` gives it its place in the
timetable, and ``go``, called just before the request is written (see bot/connector.py's
``request_gate``), checks the windows again at that moment and waits again if the slot has
slipped. From then until its answer is read the send is in flight, and it stays in each
window until a whole period after its answer: it arrived somewhere in between, so no window
Teams counts by its own arrival times can hold more than the limit.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass


@dataclass(eq=False)
class Permit:
    """One send's place in its tenant's and its conversation's windows."""

    tenant: str
    conversation: str
    granted: float | None  # when the limiter said yes: counted there until the send goes
    flying: bool = False  # a request is on its way: counted until its answer


class RateLimiter:
    """Sliding windows per key: a send waits until every window for its keys has room."""

    def __init__(
        self,
        tenant: Sequence[tuple[float, float]],
        conversation: Sequence[tuple[float, float]],
        clock: Callable[[], float] = time.monotonic,
        margin: float = 1.03,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        # A little slack on each window so jitter between here and Teams never adds up to
        # one send too many in Teams' own count.
        # A share of a limit (one of several dispatchers) is rounded down to whole sends.
        self.tenant = [(max(1, int(n)), p * margin) for n, p in tenant]
        self.conversation = [(max(1, int(n)), p * margin) for n, p in conversation]
        # Tenant sends are spaced evenly rather than let through in bursts: a burst leaves
        # here inside the window but can arrive bunched.
        self.gap = max((p / n for n, p in self.tenant), default=0.0)
        self._slot: dict[str, float] = {}  # each tenant's last timetabled send
        self._went: dict[str, float] = {}  # each tenant's last send that went (or is booked)
        self.clock = clock
        self.sleep = sleep
        # Per key, in order: when each send was let through or answered, and how many are
        # in flight (their answers not yet read).
        self._done: dict[str, list[float]] = {}
        self._flying: dict[str, int] = {}
        self._answer: asyncio.Future[None] | None = None  # resolved at the next answer

    def _delay(self, key: str, windows: list[tuple[int, float]], now: float) -> float:
        """How long until a send for ``key`` fits every window; infinite while only an
        answer to a send in flight can make room."""
        done = self._done.setdefault(key, [])
        flying = self._flying.get(key, 0)
        longest = max((p for _, p in windows), default=0)
        old = bisect.bisect_right(done, now - longest)
        if old:
            del done[:old]
        wait = 0.0
        if len(done) + flying < min((n for n, _ in windows), default=1):
            return wait  # room in every window whatever their periods
        for limit, period in windows:
            first = bisect.bisect_right(done, now - period)
            counted = flying + len(done) - first
            if counted >= limit:
                if flying >= limit:
                    return math.inf
                wait = max(wait, done[first + counted - limit] + period - now)
        return wait

    def _wait(self, tenant: str, conversation: str, now: float) -> float:
        return max(
            self._delay(f"tenant:{tenant}", self.tenant, now),
            self._delay(f"conversation:{conversation}", self.conversation, now),
        )

    async def _pause(self, wait: float) -> None:
        if math.isinf(wait):  # until a send in flight is answered (and counted as such)
            if self._answer is None or self._answer.done():
                self._answer = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._answer)
        else:
            await self.sleep(wait)

    async def acquire(self, tenant: str, conversation: str) -> Permit:
        """Wait for this send's place in the timetable; it counts from now in every window
        (from when it goes, if ``go`` is called, until a period after its answer)."""
        while True:
            now = self.clock()
            slot = self._slot.get(tenant)
            wait = max(
                slot + self.gap - now if slot is not None else 0.0,
                self._wait(tenant, conversation, now),
            )
            if wait <= 0:
                bisect.insort(self._done[f"tenant:{tenant}"], now)
                bisect.insort(self._done[f"conversation:{conversation}"], now)
                # The even spacing keeps to its timetable: a wake-up a little late is not
                # carried into the next gap (it would add up to a few percent of the rate);
                # after a pause longer than a gap the timetable starts again from now.
                due = slot + self.gap if slot is not None else now
                self._slot[tenant] = due if now - due < self.gap else now
                return Permit(tenant, conversation, now)
            await self._pause(wait)

    async def go(self, permit: Permit) -> None:
        """Just before the request is written: its place is checked again now. A send whose
        slot slipped (the process was starved between ``acquire`` and here) and would go
        bunched with the one before waits for the next gap; one that the windows no longer
        have room for waits for room. Then it is in flight until ``answered``. A permit
        that has gone once (an update refused, sent anew) takes a new place the same way."""
        keys = (f"tenant:{permit.tenant}", f"conversation:{permit.conversation}")
        if permit.granted is not None:  # its place from acquire gives way to the real one
            for key in keys:
                done = self._done.get(key, [])
                at = bisect.bisect_left(done, permit.granted)
                if at < len(done) and done[at] == permit.granted:
                    del done[at]
            permit.granted = None
        while True:
            now = self.clock()
            last = self._went.get(permit.tenant)
            if last is not None and now - last < self.gap / 2:
                spot = last + self.gap  # booked, so two slipped sends do not take the same
                self._went[permit.tenant] = spot
                await self.sleep(spot - now)
                now = self.clock()
            wait = self._wait(permit.tenant, permit.conversation, now)
            if wait <= 0:
                break
            await self._pause(wait)
        for key in keys:
            self._flying[key] = self._flying.get(key, 0) + 1
        self._went[permit.tenant] = max(now, self._went.get(permit.tenant, now))
        permit.flying = True

    def answered(self, permit: Permit) -> None:
        """Its answer was read (or the request failed): it counts a period from now."""
        if not permit.flying:
            return
        permit.flying = False
        now = self.clock()
        for key in (f"tenant:{permit.tenant}", f"conversation:{permit.conversation}"):
            self._flying[key] -= 1
            bisect.insort(self._done.setdefault(key, []), now)
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(None)

    @contextlib.asynccontextmanager
    async def sending(self, permit: Permit) -> AsyncIterator[None]:
        """Around one request: ``go`` before it, ``answered`` after, however it ends."""
        await self.go(permit)
        try:
            yield
        finally:
            self.answered(permit)
